/** The agent's structured log: JSON lines on stderr (pino), ISO timestamps. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.NRDOT_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    { name: 'nrdot-plus', level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}
