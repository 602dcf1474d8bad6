/**
 * The collection loop: one snapshot every interval on a fixed cadence (a slow read does not push
 * later ones back, and an interval whose work overruns the next tick skips that tick and counts it),
 * handed to the daemon's handler, and one log line per interval. A replayed recording is paced by
 * its own timestamps, or read as fast as possible.
 */
import { setImmediate as yieldToEvents, setTimeout as wait } from 'node:timers/promises';
import type { ReadResult } from '../procfs/index.js';
import type { Snapshot } from '../snapshot/types.js';
import type { Logger } from './log.js';
import type { SnapshotSource } from './source.js';

/** What the handler reports of an interval, for the log line. */
export interface IntervalReport {
  fields: Record<string, unknown>;
  /** Appended to the log message. */
  summary: string;
}

export interface CollectorOptions {
  source: SnapshotSource;
  intervalSeconds: number;
  log: Logger;
  /** Log every permission error instead of only counting them (OpenTelemetry's mute_process_*_error=false). */
  logPermissionErrors: boolean;
  /** Optimizes and exports a snapshot; a throw is logged and the loop goes on. */
  handle?: (snapshot: Snapshot) => IntervalReport;
  /** Called once when a replayed recording ends (the loop stops; the daemon keeps serving). */
  onEnd?: () => void;
}

export class Collector {
  /** Ticks skipped because the previous interval's work ran past them. */
  skipped = 0;
  /** Intervals handled. */
  intervals = 0;
  private stopped = false;
  private readonly wake = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly options: CollectorOptions) {}

  /** Collects now, then every interval until stop(). */
  start(): void {
    this.running = this.loop();
  }

  /** Stops the loop after the interval in hand and closes the source. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.running;
    this.options.source.close();
  }

  /** Reads and handles one snapshot; false when the read or the handling failed (logged). */
  async collectOnce(): Promise<boolean> {
    const r = await this.read();
    return r !== null && r !== 'end' && this.handle(r);
  }

  private async loop(): Promise<void> {
    const { source, intervalSeconds, log } = this.options;
    const intervalMs = intervalSeconds * 1000;
    const origin = performance.now(); // monotonic: a clock step neither stalls nor rushes collection
    let firstTimestamp: number | null = null;
    let tick = 0;
    while (!this.stopped) {
      const r = await this.read();
      if (r === 'end') {
        this.options.onEnd?.();
        return;
      }
      if (r !== null && source.kind === 'replay' && source.pace === 'recorded') {
        firstTimestamp ??= r.snapshot.timestamp;
        await this.sleep(origin + (r.snapshot.timestamp - firstTimestamp) * 1000 - performance.now());
        if (this.stopped) return;
      }
      if (r !== null) this.handle(r);
      if (source.kind === 'replay') {
        await yieldToEvents(); // let the API answer between snapshots
        continue;
      }
      // Next due time on the fixed grid; grid points already past are skipped, not piled up.
      tick++;
      let due = origin + tick * intervalMs;
      const now = performance.now();
      if (due < now) {
        const missed = Math.ceil((now - due) / intervalMs);
        this.skipped += missed;
        tick += missed;
        due += missed * intervalMs;
        log.warn(
          { skipped: missed, skipped_total: this.skipped, interval_s: intervalSeconds },
          `the interval's work overran the next tick: skipped ${missed} (${this.skipped} in all); consider a longer interval`,
        );
      }
      await this.sleep(due - now);
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return;
    try {
      await wait(ms, undefined, { signal: this.wake.signal });
    } catch {
      // stop() woke us
    }
  }

  /** The next snapshot; null when the read failed (logged), 'end' at the end of a recording. */
  private async read(): Promise<ReadResult | null | 'end'> {
    const { source, log } = this.options;
    try {
      return (await source.next()) ?? 'end';
    } catch (err) {
      const what = source.kind === 'procfs' ? `cannot read ${source.location}` : `cannot replay ${source.location}`;
      log.error({ err, source: source.location }, `${what}: ${(err as Error).message}`);
      if (source.kind === 'replay') return 'end';
      return null;
    }
  }

  private handle(result: ReadResult): boolean {
    const { log, source } = this.options;
    const { stats, snapshot } = result;
    let report: IntervalReport = { fields: {}, summary: '' };
    if (this.options.handle) {
      try {
        report = this.options.handle(snapshot);
      } catch (err) {
        log.error({ err }, `cannot optimize or export this interval: ${(err as Error).message}`);
        return false;
      }
    }
    this.intervals++;
    const denied = Object.fromEntries(Object.entries(stats.permissionErrors).filter(([, n]) => n > 0));
    const mutedNote = this.options.logPermissionErrors ? '' : `, ${stats.permissionErrorsTotal} permission errors muted`;
    const verb = source.kind === 'replay' ? `replayed snapshot ${new Date(snapshot.timestamp * 1000).toISOString()}:` : 'collected';
    log.info(
      {
        processes: stats.processes,
        vanished: stats.vanished,
        permission_errors: stats.permissionErrorsTotal,
        permission_errors_by_kind: denied,
        other_errors: stats.otherErrors,
        read_ms: round(stats.durationMs),
        ...report.fields,
      },
      `${verb} ${stats.processes} processes in ${round(stats.durationMs)} ms${mutedNote}${report.summary}`,
    );
    if (this.options.logPermissionErrors) {
      for (const d of stats.permissionErrorDetails) {
        const what = d.kind === 'hidden' ? `pid ${d.pid} is hidden from this user (hidepid)` : `permission denied reading ${d.kind} of pid ${d.pid} (${d.name})`;
        log.warn({ process_pid: d.pid, process_name: d.name, kind: d.kind }, what);
      }
    }
    return true;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
