/** The agent's structured log: JSON lines on stderr (pino), ISO timestamps. */
import { pino, type Logger } from 'pino';
import { UsageError } from '../cli/errors.js';

export type { Logger };

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The log level from NRDOT_LOG_LEVEL (default info); a bad value is a usage error naming it. */
export function logLevel(env = process.env): string {
  const level = (env.NRDOT_LOG_LEVEL ?? '').trim().toLowerCase() || 'info';
  if (!LEVELS.includes(level)) {
    throw new UsageError(`NRDOT_LOG_LEVEL: must be one of ${LEVELS.join(', ')} (got "${env.NRDOT_LOG_LEVEL}")`);
  }
  return level;
}

export function createLogger(level = logLevel()): Logger {
  return pino(
    { name: 'nrdot-plus', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}
