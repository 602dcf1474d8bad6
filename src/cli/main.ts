/** `nrdot-plus-ctl`: the control CLI. One file per command group; this file only assembles them. */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { configure, runProgram } from '../command/program.js';
import { configCommand } from './config.js';
import { explainCommand } from './explain.js';
import { logsCommand } from './logs.js';
import { simulateCommand } from './simulate.js';
import { profileCommand } from './profile.js';
import { snapshotCommand } from './snapshot.js';
import { synthCommand } from './synth.js';
import { metricsCommand, statusCommand } from './status.js';
import { topCommand } from './top.js';
import { scheduleCommand } from './schedule.js';
import { controlCommand, rollbackCommand } from './control.js';
import { fleetCommand } from './fleet.js';

export function buildProgram(): Command {
  const program = configure(new Command('nrdot-plus-ctl'))
    .description('Control and inspect NRDOT-Plus: per-process host metrics at a fraction of the cost.')
    .version(VERSION, '-V, --version', 'print the version');
  program.addCommand(configCommand());
  program.addCommand(profileCommand());
  program.addCommand(snapshotCommand());
  program.addCommand(simulateCommand());
  program.addCommand(explainCommand());
  program.addCommand(synthCommand());
  program.addCommand(statusCommand());
  program.addCommand(metricsCommand());
  program.addCommand(topCommand());
  program.addCommand(scheduleCommand());
  program.addCommand(logsCommand());
  program.addCommand(controlCommand());
  program.addCommand(rollbackCommand());
  program.addCommand(fleetCommand());
  program.addCommand(
    configure(new Command('version'))
      .description('print the version')
      .option('--json', 'print as JSON')
      .action((opts: { json?: boolean }) => {
        if (opts.json) process.stdout.write(JSON.stringify({ version: VERSION, node: process.version }) + '\n');
        else process.stdout.write(`nrdot-plus-ctl ${VERSION} (node ${process.version})\n`);
      }),
  );
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  process.exitCode = await runProgram(buildProgram(), argv);
}
