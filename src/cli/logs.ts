/** `nrdot-plus-ctl logs`: the agent's log file, its last lines or followed, human-formatted (src/command/log-line.ts) or raw JSON. */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_FILE_NAME, logFile } from '../config/index.js';
import { LogFile } from './log-files.js';
import { configure } from '../command/program.js';
import { formatLine, LEVELS, levelValue, parseLine } from '../command/log-line.js';

/** While following, FILE is also checked this often, in case its directory cannot be watched. */
const POLL_MS = 1000;

interface LogsOptions {
  follow?: boolean;
  lines: number;
  level?: string;
  json?: boolean;
  logDir?: string;
}

/** Keeps JSON lines at `level` or above, and every line that is not JSON (it has no level to judge). */
function atLeast(level: string | undefined): (line: string) => boolean {
  const min = level === undefined ? undefined : LEVELS[level];
  if (min === undefined) return () => true;
  return (line) => {
    const value = levelValue(parseLine(line)?.level);
    return value === undefined || value >= min;
  };
}

function linesArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number, 0 or more.');
  return n;
}

export function logsCommand(): Command {
  return configure(new Command('logs'))
    .description("print the agent's log: its last lines, or follow it as it grows (across rotations)")
    .option('-f, --follow', 'keep printing new lines as they are written, until Ctrl-C')
    .option('-n, --lines <n>', 'how many of the last lines to print first', linesArg, 50)
    .addOption(new Option('--level <level>', 'only lines at this level or above').choices(Object.keys(LEVELS)))
    .option('--json', 'print the raw JSON lines')
    .option('--log-dir <dir>', `directory of ${LOG_FILE_NAME} (env NRDOT_LOG_DIR)`)
    .action((opts: LogsOptions) => logs(opts));
}

async function logs(opts: LogsOptions): Promise<void> {
  const path = opts.logDir !== undefined ? join(opts.logDir, LOG_FILE_NAME) : logFile();
  const file = new LogFile(path, `no log file at ${path}; is the agent running? start it with \`nrdot-plus\` (or \`systemctl start nrdot-plus\`)`);
  const colour = !opts.json && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const accept = atLeast(opts.level);
  const show = (line: string): string => (opts.json ? line : formatLine(line, colour)) + '\n';
  try {
    const last = opts.lines > 0 ? file.last(opts.lines, accept) : [];
    process.stdout.write(last.map(show).join(''));
    if (opts.follow) await follow(file, (line) => (accept(line) ? show(line) : ''));
  } finally {
    file.close();
  }
}

/** Prints new lines as they come (a watch of the directory, and a poll as a safety net) until SIGINT, SIGTERM or a closed stdout. */
function follow(file: LogFile, render: (line: string) => string): Promise<void> {
  return new Promise((resolve) => {
    let scheduled: NodeJS.Timeout | undefined;
    const check = (): void => {
      scheduled = undefined;
      let out = '';
      file.poll((line) => (out += render(line)));
      if (out !== '') process.stdout.write(out);
    };
    // Events come per write; gather a burst into one read.
    const soon = (): void => {
      scheduled ??= setTimeout(check, 20);
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dirname(file.path), soon);
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // no inotify watches left, or a file system without them: the poll does it
    }
    const poll = setInterval(check, POLL_MS);
    const stop = (): void => {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(scheduled);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stdout.off('error', closed);
      resolve();
    };
    const closed = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EPIPE') stop();
      else throw err;
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stdout.on('error', closed);
    check();
  });
}
