/**
 * The agent's structured log: JSON lines (pino, ISO timestamps) on stderr (or on a terminal, readable
 * lines: logFormat) and, when given a file, the same lines as JSON in that file too, rotated by size
 * (`nrdot-plus-ctl logs` reads it). Both are written synchronously: a line is on disk before the call
 * returns, and nothing runs in another thread. Given a Redactor, every line goes through it once,
 * before it is written anywhere: no call site can log a secret of the configuration, whatever it quotes.
 */
import { mkdirSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { UsageError, UserError } from '../command/errors.js';
import type { Redactor } from '../config/secrets.js';
import { formatLine } from '../command/log-line.js';
import { RotatingFile } from '../export/file.js';

export type { Logger };

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

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

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS = ['json', 'text', 'auto'] as const;

/**
 * stderr's format: --log-format, else NRDOT_LOG_FORMAT, else auto: readable lines on a terminal,
 * JSON lines otherwise (a pipe, journald, a file). A bad variable is a usage error naming it.
 */
export function logFormat(flag: string | undefined, stderr: { isTTY?: boolean } = process.stderr, env = process.env): LogFormat {
  const raw = flag ?? env.NRDOT_LOG_FORMAT?.trim().toLowerCase();
  const chosen = raw === undefined || raw === '' ? 'auto' : raw;
  if (!(LOG_FORMATS as readonly string[]).includes(chosen)) {
    throw new UsageError(`NRDOT_LOG_FORMAT: must be one of ${LOG_FORMATS.join(', ')} (got "${env.NRDOT_LOG_FORMAT}")`);
  }
  if (chosen === 'auto') return stderr.isTTY === true ? 'text' : 'json';
  return chosen as LogFormat;
}

function useColour(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

/** Lines as `nrdot-plus-ctl logs` prints them (formatLine), written synchronously to the fd. */
function textDestination(fd: number, colour: boolean): DestinationStream {
  return {
    write(line: string): void {
      writeSync(fd, `${formatLine(line.trimEnd(), colour)}\n`);
    },
  };
}

/** The log level from NRDOT_LOG_LEVEL (default info); a bad value is a usage error naming it. */
export function logLevel(env = process.env): string {
  const level = (env.NRDOT_LOG_LEVEL ?? '').trim().toLowerCase() || 'info';
  if (!LEVELS.includes(level)) {
    throw new UsageError(`NRDOT_LOG_LEVEL: must be one of ${LEVELS.join(', ')} (got "${env.NRDOT_LOG_LEVEL}")`);
  }
  return level;
}

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
  const stderr = (options.format ?? 'json') === 'text' ? textDestination(2, useColour(process.stderr)) : pino.destination({ dest: 2, sync: true });
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
