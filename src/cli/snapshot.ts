/**
 * `nrdot-plus-ctl snapshot`: reads the procfs N times and writes the snapshots as an
 * `nrdot.snapshot/v1` recording (NDJSON; gzip when the file ends in .gz) to stdout or a file.
 */
import { statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { RecordingWriter } from '../snapshot/recording.js';
import { collectionInterval, countArg, MAX_INTERVAL_SECONDS, openReader, procfsRoot, secondsArg } from '../command/options.js';
import { configure } from '../command/program.js';
import { UsageError, UserError } from '../command/errors.js';
import { formatBytes } from './style.js';

interface SnapshotOptions {
  procfs?: string;
  count: number;
  interval?: number;
  output: string;
  json?: boolean;
}

export function snapshotCommand(): Command {
  return configure(new Command('snapshot'))
    .description('read every process N times and write an nrdot.snapshot/v1 recording (NDJSON)')
    .addOption(new Option('--procfs <dir>', 'procfs root to read (env NRDOT_PROCFS)').default(undefined, '/proc'))
    .addOption(new Option('--count <n>', 'number of snapshots').argParser(countArg).default(1))
    .addOption(
      new Option('--interval <seconds>', 'seconds between snapshots; 0 reads back to back')
        .argParser(secondsArg(0, MAX_INTERVAL_SECONDS))
        .default(undefined, 'NRDOT_COLLECTION_INTERVAL or 60'),
    )
    .addOption(new Option('-o, --output <file>', 'write to FILE instead of stdout (gzip when it ends in .gz)').default('-'))
    .option('--json', 'with --output: print what was written as JSON on stdout')
    .action(async (opts: SnapshotOptions) => {
      await takeSnapshots(opts);
    });
}

async function takeSnapshots(opts: SnapshotOptions): Promise<void> {
  if (opts.json && opts.output === '-') throw new UsageError('--json goes with --output FILE (on stdout, the recording itself is JSON lines)');
  const root = procfsRoot(opts.procfs);
  const interval = collectionInterval(opts.interval);
  // Back-to-back reads still give a young process a second look at its static attributes once it
  // has lived a second (a process caught between fork and exec would otherwise keep its parent's).
  const reader = openReader(root, Math.max(interval, 1));
  const writer = RecordingWriter.open(opts.output);
  const progress = opts.output !== '-' && process.stderr.isTTY ? new Progress(opts.count) : null;
  // Ctrl-C finishes the recording cleanly: what was read stays a valid (gzip) file.
  let interrupted = false;
  let pause: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  const onSignal = (): void => {
    interrupted = true;
    if (pause) {
      clearTimeout(pause.timer);
      pause.resolve();
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let outputFailure: Error | null = null;
  const outputError = new Promise<void>((resolve) =>
    writer.onError((err) => {
      outputFailure = err;
      resolve();
    }),
  );
  const start = performance.now(); // monotonic: a clock step does not stall or rush the recording
  let written = 0;
  const processes = { min: Infinity, max: 0 };
  try {
    for (let i = 0; i < opts.count && !interrupted && !outputFailure; i++) {
      const due = start + i * interval * 1000;
      // Always let the event loop turn, so that Ctrl-C is seen even with --interval 0.
      await new Promise<void>((resolve) => {
        pause = { timer: setTimeout(resolve, Math.max(0, due - performance.now())), resolve };
      });
      pause = null;
      if (interrupted) break;
      let snapshot;
      try {
        snapshot = reader.read().snapshot;
      } catch (err) {
        throw new UserError(`procfs root ${root}: ${(err as Error).message}`);
      }
      await Promise.race([writer.write(snapshot), outputError]);
      if (outputFailure) break;
      written++;
      processes.min = Math.min(processes.min, snapshot.processes.length);
      processes.max = Math.max(processes.max, snapshot.processes.length);
      progress?.update(written, snapshot.processes.length);
    }
    if (!outputFailure) await Promise.race([writer.close(), outputError]);
  } finally {
    reader.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress?.done();
  }
  const failure = outputFailure as NodeJS.ErrnoException | null;
  if (failure) {
    // The reader of a pipe went away (`| head`): that ends the recording, it is not an error.
    if (opts.output === '-' && failure.code === 'EPIPE') return;
    throw new UserError(`${opts.output === '-' ? 'stdout' : `--output ${opts.output}`}: ${failure.message}`);
  }
  if (opts.output !== '-') {
    const bytes = statSync(opts.output).size;
    if (opts.json) process.stdout.write(JSON.stringify({ output: opts.output, snapshots: written, bytes, interrupted }) + '\n');
    else {
      const seen = processes.min === Infinity ? '' : ` of ${processes.min === processes.max ? processes.min : `${processes.min}-${processes.max}`} processes`;
      process.stderr.write(`snapshot: ${interrupted ? 'interrupted; ' : ''}${written} snapshot(s)${seen} written to ${opts.output} (${formatBytes(bytes)})\n`);
    }
  } else if (interrupted) process.stderr.write(`snapshot: interrupted, ${written} snapshot(s) written\n`);
  if (interrupted) process.exitCode = 130;
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
