/**
 * Shared commander plumbing: every command rejects unknown flags with exit code 2, prints help with
 * --help, and turns a UserError into one line on stderr and its exit code (never a stack trace).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { RecordingError } from '../snapshot/recording.js';
import { EXIT, UserError } from './errors.js';

/** Runs a commander program to completion and returns the exit code. */
export async function runProgram(program: Command, argv: readonly string[]): Promise<number> {
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv as string[]);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed the message (or the help, or the version).
      // --help, --version and `help [command]` exit 0; everything else commander reports is usage.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof UserError || err instanceof RecordingError || err instanceof ConfigError) {
      process.stderr.write(`${program.name()}: ${err.message}\n`);
      return err instanceof UserError || err instanceof ConfigError ? err.exitCode : EXIT.error;
    }
    throw err;
  }
}

/** A (sub)command with the project's conventions: help after errors, sorted help. */
export function configure(cmd: Command): Command {
  return cmd.showHelpAfterError('(add --help for usage)').configureHelp({ sortSubcommands: true });
}
