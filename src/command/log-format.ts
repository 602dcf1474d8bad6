/**
 * stderr's log format and level, shared by the daemons (the agent's src/agent/log.ts, the hub's
 * src/hub/main.ts): JSON lines (pino) or, on a terminal, the readable lines of `nrdot-plus-ctl logs`.
 */
import { writeSync } from 'node:fs';
import { pino, type DestinationStream } from 'pino';
import { UsageError } from './errors.js';
import { formatLine } from './log-line.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

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

/** The log level from NRDOT_LOG_LEVEL (default info); a bad value is a usage error naming it. */
export function logLevel(env = process.env): string {
  const level = (env.NRDOT_LOG_LEVEL ?? '').trim().toLowerCase() || 'info';
  if (!LEVELS.includes(level)) {
    throw new UsageError(`NRDOT_LOG_LEVEL: must be one of ${LEVELS.join(', ')} (got "${env.NRDOT_LOG_LEVEL}")`);
  }
  return level;
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

/** stderr in the given format, written synchronously (a line is out before the call returns). */
export function stderrDestination(format: LogFormat): DestinationStream {
  return format === 'text' ? textDestination(2, useColour(process.stderr)) : pino.destination({ dest: 2, sync: true });
}
