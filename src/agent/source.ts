/**
 * Where the agent's snapshots come from: the live procfs, or a recording replayed (`--replay FILE`)
 * at the recorded pace or as fast as possible. Either way the pipeline sees the same snapshots, and
 * time comes from the snapshots themselves.
 */
import { PERMISSION_KINDS, type ProcfsReader, type ReadResult } from '../procfs/index.js';
import { readRecording } from '../snapshot/recording.js';
import type { Snapshot } from '../snapshot/types.js';

export type ReplayPace = 'recorded' | 'fast';

export interface SnapshotSource {
  readonly kind: 'procfs' | 'replay';
  /** What is read, for logs: the procfs root or the recording's path. */
  readonly location: string;
  /** Replay only: how fast. */
  readonly pace: ReplayPace | null;
  /** The next snapshot, or null at the end of a recording. A procfs read that fails throws. */
  next(): Promise<ReadResult | null>;
  close(): void;
}

export class ProcfsSource implements SnapshotSource {
  readonly kind = 'procfs';
  readonly pace = null;

  constructor(private readonly reader: ProcfsReader) {}

  get location(): string {
    return this.reader.root;
  }

  next(): Promise<ReadResult> {
    return Promise.resolve(this.reader.read());
  }

  close(): void {
    this.reader.close();
  }
}

export class ReplaySource implements SnapshotSource {
  readonly kind = 'replay';
  private readonly snapshots: AsyncGenerator<Snapshot>;
  private first: IteratorResult<Snapshot> | null = null;

  private constructor(
    readonly location: string,
    readonly pace: ReplayPace,
    warn: (message: string) => void,
  ) {
    this.snapshots = readRecording(location, warn);
  }

  /** Opens the recording and reads its first snapshot (a RecordingError when it is not one); `warn` hears of snapshots skipped. */
  static async open(location: string, pace: ReplayPace, warn: (message: string) => void): Promise<ReplaySource> {
    const source = new ReplaySource(location, pace, warn);
    source.first = await source.snapshots.next();
    return source;
  }

  async next(): Promise<ReadResult | null> {
    const started = performance.now();
    const { value, done } = this.first ?? (await this.snapshots.next());
    this.first = null;
    if (done) return null;
    const permissionErrors = Object.fromEntries(PERMISSION_KINDS.map((k) => [k, 0])) as ReadResult['stats']['permissionErrors'];
    return {
      snapshot: value,
      stats: {
        processes: value.processes.length,
        vanished: 0,
        permissionErrors,
        permissionErrorsTotal: 0,
        otherErrors: 0,
        durationMs: performance.now() - started,
        permissionErrorDetails: [],
      },
    };
  }

  close(): void {
    void this.snapshots.return(undefined);
  }
}
