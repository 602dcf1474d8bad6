/**
 * `nrdot-plus-ctl snapshot`: reads the procfs N times and writes the snapshots as an
 * `nrdot.snapshot/v1` recording (NDJSON; gzip when the file ends in .gz) to stdout or a file.
 */
import { Command, Option } from 'commander';
import { ProcfsReader } from '../procfs/index.js';
import { RecordingWriter } from '../snapshot/recording.js';
import { collectionInterval, countArg, procfsRoot, secondsArg } from './options.js';
import { configure } from './program.js';
import { UserError } from './errors.js';

interface SnapshotOptions {
  procfs?: string;
  count: number;
  interval?: number;
  output: string;
}

export function snapshotCommand(): Command {
  return configure(new Command('snapshot'))
    .description('read every process N times and write an nrdot.snapshot/v1 recording (NDJSON)')
    .addOption(new Option('--procfs <dir>', 'procfs root to read (env NRDOT_PROCFS)').default(undefined, '/proc'))
    .addOption(new Option('--count <n>', 'number of snapshots').argParser(countArg).default(1))
    .addOption(
      new Option('--interval <seconds>', 'seconds between snapshots; 0 reads back to back')
        .argParser(secondsArg(0))
        .default(undefined, 'NRDOT_COLLECTION_INTERVAL or 60'),
    )
    .addOption(new Option('-o, --output <file>', 'write to FILE instead of stdout (gzip when it ends in .gz)').default('-'))
    .action(async (opts: SnapshotOptions) => {
      await takeSnapshots(opts);
    });
}

async function takeSnapshots(opts: SnapshotOptions): Promise<void> {
  const root = procfsRoot(opts.procfs);
  const interval = collectionInterval(opts.interval);
  const reader = openReader(root, interval);
  const writer = RecordingWriter.open(opts.output);
  const progress = opts.output !== '-' && process.stderr.isTTY ? new Progress(opts.count) : null;
  // Ctrl-C finishes the recording cleanly: what was read stays a valid (gzip) file.
  let interrupted = false;
  let wake: (() => void) | null = null;
  const onSignal = (): void => {
    interrupted = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const start = Date.now();
  let written = 0;
  const outputError = new Promise<never>((_, reject) => writer.onError((err) => reject(err)));
  try {
    for (let i = 0; i < opts.count && !interrupted; i++) {
      if (i > 0 && interval > 0) {
        const due = start + i * interval * 1000;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(0, due - Date.now()));
        });
        wake = null;
        if (interrupted) break;
      }
      const { snapshot } = reader.read();
      await Promise.race([writer.write(snapshot), outputError]);
      written++;
      progress?.update(written, snapshot.processes.length);
    }
    await Promise.race([writer.close(), outputError]);
  } catch (err) {
    throw new UserError(`--output ${opts.output}: ${(err as Error).message}`);
  } finally {
    reader.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress?.done();
  }
  if (interrupted) {
    process.stderr.write(`snapshot: interrupted, ${written} snapshot(s) written\n`);
    process.exitCode = 130;
  }
}

/** A reader on root, or a UserError naming the root when it is not a procfs (no stat, no meminfo). */
export function openReader(root: string, intervalSeconds: number, errorDetails = 0): ProcfsReader {
  try {
    return new ProcfsReader({ root, intervalSeconds, errorDetails, hostId: process.env.NRDOT_HOST_ID });
  } catch (err) {
    throw new UserError(`procfs root ${root}: not readable as a procfs (${(err as Error).message})`);
  }
}

/** One status line on the terminal, redrawn in place. */
class Progress {
  constructor(private readonly total: number) {}

  update(done: number, processes: number): void {
    const pct = Math.floor((done / this.total) * 100);
    process.stderr.write(`\r\x1b[Ksnapshot ${done}/${this.total} (${pct}%), ${processes} processes`);
  }

  done(): void {
    process.stderr.write('\n');
  }
}
