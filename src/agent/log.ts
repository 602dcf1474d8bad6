/**
 * The agent's structured log: JSON lines (pino, ISO timestamps) on stderr (or on a terminal, readable
 * lines: logFormat) and, when given a file, the same lines as JSON in that file too, rotated by size
 * (`nrdot-plus-ctl logs` reads it). Both are written synchronously: a line is on disk before the call
 * returns, and nothing runs in another thread. Given a Redactor, every line goes through it once,
 * before it is written anywhere: no call site can log a secret of the configuration, whatever it quotes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { UserError } from '../command/errors.js';
import type { Redactor } from '../config/secrets.js';
import { logLevel, stderrDestination, type LogFormat } from '../command/log-format.js';
import { RotatingFile } from '../export/file.js';

export type { Logger };

/** Size at which the log file is rotated (10 MB), and the rotated files kept (FILE.1 to FILE.3). */
export const LOG_MAX_BYTES = 10_000_000;
export const LOG_KEEP = 3;

export interface LogFileOptions {
  /** Also write every line to this file (its directory is created, 0750, if missing). */
  file?: string;
  /** Rotate the file before it would pass this size (default LOG_MAX_BYTES). */
  maxBytes?: number;
  /** Rotated files kept (default LOG_KEEP). */
  keep?: number;
  /** Scrubs every line (the agent's: its configuration's secrets, updated on reload). */
  redactor?: Redactor;
  /** stderr's format (default json); the file is JSON lines always. */
  format?: LogFormat;
}

export { LOG_FORMATS, logFormat, logLevel, type LogFormat } from '../command/log-format.js';

/**
 * The agent's logger. With `options.file`, a file that cannot be created or written is a UserError
 * naming it, here and now; a later failure (disk full) is reported once on stderr, and the file is
 * tried again at every line, so logging goes on on stderr meanwhile.
 */
export function createLogger(level = logLevel(), options: LogFileOptions = {}): Logger {
  const redactor = options.redactor;
  const settings = {
    name: 'nrdot-plus',
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(redactor ? { hooks: { streamWrite: (line: string) => redactor.scrub(line) } } : {}),
  };
  const stderr = stderrDestination(options.format ?? 'json');
  if (options.file === undefined) return pino(settings, stderr);
  const file = openLogFile(options.file, options);
  const streams = pino.multistream([
    { level: 'trace', stream: stderr },
    { level: 'trace', stream: fileDestination(file, pino(settings, stderr)) },
  ]);
  return pino(settings, streams);
}

function openLogFile(path: string, options: LogFileOptions): RotatingFile {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    const file = new RotatingFile({ path, maxBytes: options.maxBytes ?? LOG_MAX_BYTES, keep: options.keep ?? LOG_KEEP, mode: 0o640 });
    file.append(''); // can we write there at all? Say so at start, not at the first line
    return file;
  } catch (err) {
    throw new UserError(`log file ${path}: ${(err as Error).message}`);
  }
}

/** Lines to the file; a write error is reported once (on stderr) until a write succeeds again. */
function fileDestination(file: RotatingFile, stderrOnly: Logger): DestinationStream {
  let failing = false;
  return {
    write(line: string): void {
      try {
        file.append(line);
        failing = false;
      } catch (err) {
        if (failing) return;
        failing = true;
        stderrOnly.error({ log_file: file.path }, `log file ${file.path}: ${(err as Error).message}; logging on stderr only until it can be written again`);
      }
    },
  };
}
