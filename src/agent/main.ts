/**
 * `nrdot-plus`: the agent. For now it reads a snapshot of every process each interval and logs
 * what it read; the optimizer and the exporters come behind it.
 */
import { Command, Option } from 'commander';
import { EXIT } from '../cli/errors.js';
import { collectionInterval, envBoolean, procfsRoot, secondsArg } from '../cli/options.js';
import { configure, runProgram } from '../cli/program.js';
import { openReader } from '../cli/snapshot.js';
import { VERSION } from '../version.js';
import { Collector } from './collector.js';
import { createLogger } from './log.js';

interface AgentOptions {
  procfs?: string;
  interval?: number;
  logPermissionErrors?: boolean;
  once?: boolean;
}

/** Most permission errors one interval logs when they are not muted. */
const PERMISSION_DETAILS_PER_INTERVAL = 50;

export function buildAgentProgram(): Command {
  return configure(new Command('nrdot-plus'))
    .description('NRDOT-Plus agent: per-process host metrics, optimized. Runs until SIGTERM or Ctrl-C.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--procfs <dir>', 'procfs root to read (env NRDOT_PROCFS)').default(undefined, '/proc'))
    .addOption(
      new Option('--interval <seconds>', 'collection interval, 1 or more (env NRDOT_COLLECTION_INTERVAL)')
        .argParser(secondsArg(1))
        .default(undefined, '60'),
    )
    .option(
      '--log-permission-errors',
      'log each permission error instead of counting them (env NRDOT_MUTE_PERMISSION_ERRORS=false)',
    )
    .option('--once', 'collect one interval and exit')
    .action(async (opts: AgentOptions) => {
      await runAgent(opts);
    });
}

async function runAgent(opts: AgentOptions): Promise<void> {
  const intervalSeconds = collectionInterval(opts.interval);
  const root = procfsRoot(opts.procfs);
  const mute = envBoolean('NRDOT_MUTE_PERMISSION_ERRORS');
  const logPermissionErrors = opts.logPermissionErrors ?? mute === false;
  const log = createLogger();
  const reader = openReader(root, intervalSeconds, logPermissionErrors ? PERMISSION_DETAILS_PER_INTERVAL : 0);
  const collector = new Collector({ reader, intervalSeconds, log, logPermissionErrors });
  if (opts.once) {
    const ok = collector.collectOnce();
    reader.close();
    if (!ok) process.exitCode = EXIT.error;
    return;
  }
  log.info({ version: VERSION, procfs: root, interval_s: intervalSeconds }, `nrdot-plus ${VERSION} started: reading ${root} every ${intervalSeconds} s`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      collector.stop();
      log.info({ signal }, `stopped on ${signal}`);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    collector.start();
  });
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  process.exitCode = await runProgram(buildAgentProgram(), argv);
}
