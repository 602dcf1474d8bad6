/**
 * `nrdot-plus-ctl synth`: writes the recording of a synthetic host (nrdot.snapshot/v1 NDJSON, gzip
 * for .gz) and, beside it, the ground truth of the anomalies injected into it (FILE.truth.json).
 * Same arguments, same bytes: everything derives from the archetype and the seed.
 */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { RecordingWriter } from '../snapshot/recording.js';
import { ARCHETYPE_DEFS, ARCHETYPES, SYNTH_DEFAULTS, SyntheticHost, truthPath, type Archetype } from '../snapshot/synth.js';
import { UsageError, UserError } from '../command/errors.js';
import { countArg, MAX_INTERVAL_SECONDS, secondsArg } from '../command/options.js';

/** The latest --start: 9999-12-31T23:59:59Z, the last time an ISO 8601 date can say. */
const LAST_SECOND_OF_9999 = 253_402_300_799;
import { configure } from '../command/program.js';

interface SynthCliOptions {
  archetype: Archetype;
  intervals: number;
  interval: number;
  seed: number;
  start: number;
  output: string;
  json?: boolean;
}

function integerArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number, 0 or more.');
  return n;
}

export function synthCommand(): Command {
  const archetypes = ARCHETYPES.map((name) => `  ${name.padEnd(10)} ${ARCHETYPE_DEFS[name].summary}`).join('\n');
  return configure(new Command('synth'))
    .description('generate the recording of a synthetic host, with injected anomalies and their ground truth')
    .addOption(new Option('--archetype <name>', 'the host to simulate').choices(ARCHETYPES).makeOptionMandatory())
    .addOption(new Option('--intervals <n>', 'number of snapshots').argParser(countArg).makeOptionMandatory())
    .addOption(new Option('--interval <seconds>', 'seconds between snapshots').argParser(secondsArg(1, MAX_INTERVAL_SECONDS)).default(SYNTH_DEFAULTS.intervalSeconds))
    .addOption(new Option('--seed <n>', 'random seed: the same seed gives the same bytes').argParser(integerArg).default(SYNTH_DEFAULTS.seed))
    .addOption(new Option('--start <unix-seconds>', 'time of the first snapshot').argParser(secondsArg(0, LAST_SECOND_OF_9999)).default(SYNTH_DEFAULTS.start))
    .addOption(new Option('-o, --output <file>', 'recording to write (gzip when it ends in .gz); the ground truth goes to FILE.truth.json').makeOptionMandatory())
    .option('--json', 'print what was written as JSON on stdout')
    .addHelpText(
      'after',
      `\nArchetypes:\n${archetypes}\n\n` +
        'Every archetype also runs kernel threads, systemd and its services, sshd with a session, tmux,\n' +
        'cron and a monitoring agent. Anomalies (cpu_spike, memory_leak, runaway_batch, subtle_shift) start\n' +
        'after 8 snapshots of history and last max(3 intervals, 180 s), at most 240 s; a recording too short\n' +
        'for all four gets those that fit (none under 12 snapshots). The ground truth file replaces the\n' +
        '.ndjson, .ndjson.gz or .gz extension of FILE with .truth.json.\n',
    )
    .action(async (opts: SynthCliOptions) => {
      await synthesize(opts);
    });
}

async function synthesize(opts: SynthCliOptions): Promise<void> {
  if (opts.output === '-') throw new UsageError('--output: give a file name (the ground truth is written beside it)');
  const truthFile = truthPath(opts.output);
  const synth = new SyntheticHost({ archetype: opts.archetype, intervals: opts.intervals, intervalSeconds: opts.interval, seed: opts.seed, start: opts.start });
  const writer = RecordingWriter.open(opts.output);
  let failure: Error | null = null;
  const failed = new Promise<void>((resolve) =>
    writer.onError((err) => {
      failure = err;
      resolve();
    }),
  );
  let min = Infinity;
  let max = 0;
  for (const snapshot of synth.snapshots()) {
    min = Math.min(min, snapshot.processes.length);
    max = Math.max(max, snapshot.processes.length);
    await Promise.race([writer.write(snapshot), failed]);
    if (failure) break;
  }
  if (!failure) await Promise.race([writer.close(), failed]);
  if (failure) throw new UserError(`--output ${opts.output}: ${(failure as Error).message}`);
  const truth = synth.truth();
  try {
    writeFileSync(truthFile, JSON.stringify(truth, null, 2) + '\n');
  } catch (err) {
    throw new UserError(`${truthFile}: ${(err as Error).message}`);
  }
  if (opts.json) {
    const summary = { output: opts.output, truth: truthFile, archetype: opts.archetype, seed: opts.seed, snapshots: opts.intervals, processes_min: min, processes_max: max, anomalies: truth.anomalies.length };
    process.stdout.write(JSON.stringify(summary) + '\n');
    return;
  }
  process.stderr.write(
    `synth: ${opts.intervals} snapshot(s) of ${opts.archetype} (seed ${opts.seed}, ${min === max ? min : `${min}-${max}`} processes) to ${opts.output}; ` +
      `${truth.anomalies.length} anomal${truth.anomalies.length === 1 ? 'y' : 'ies'} in ${truthFile}\n`,
  );
}
