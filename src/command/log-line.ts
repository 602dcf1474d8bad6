/**
 * The agent's JSON log lines as people read them: `2026-11-26T06:21:25.138Z INFO  message`. Used by
 * `nrdot-plus-ctl logs` and by the agent itself on a terminal (src/agent/log.ts).
 */

/** pino's levels. */
export const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const LABELS = new Map(Object.entries(LEVELS).map(([name, value]) => [value, name.toUpperCase()]));
const COLOURS = new Map([
  [10, '\x1b[90m'],
  [20, '\x1b[90m'],
  [30, '\x1b[32m'],
  [40, '\x1b[33m'],
  [50, '\x1b[31m'],
  [60, '\x1b[1;31m'],
]);
const RESET = '\x1b[0m';

interface Entry {
  level?: unknown;
  time?: unknown;
  msg?: unknown;
}

/** The entry of a JSON log line; undefined for a line that is not a JSON object. */
export function parseLine(line: string): Entry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Entry) : undefined;
  } catch {
    return undefined;
  }
}

export function levelValue(level: unknown): number | undefined {
  if (typeof level === 'number') return level;
  if (typeof level === 'string') return LEVELS[level.toLowerCase()];
  return undefined;
}

/** `2026-11-26T06:21:25.138Z INFO  message`; a line that is not JSON is returned as it is (control characters escaped). */
export function formatLine(line: string, colour: boolean): string {
  const entry = parseLine(line);
  if (entry === undefined) return visible(line);
  const { level, time, msg } = entry;
  const value = levelValue(level);
  const label = (value !== undefined ? LABELS.get(value) : undefined) ?? String(level ?? '-').toUpperCase();
  const padded = colour && value !== undefined && COLOURS.has(value) ? `${COLOURS.get(value)}${label}${RESET}${' '.repeat(Math.max(0, 5 - label.length))}` : label.padEnd(5);
  const when = typeof time === 'number' ? new Date(time).toISOString() : String(time ?? '-');
  const text = typeof msg === 'string' ? msg : fields(entry);
  return `${when} ${padded} ${visible(text)}`;
}

/**
 * Control characters shown as escapes: a message quotes process names and command lines, which any
 * local user chooses, and JSON.parse turns `\u001b` back into a real ESC that a terminal would obey.
 */
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The fields of a line without a message, so that it is not blank. */
function fields(entry: Entry): string {
  const rest: Record<string, unknown> = { ...entry };
  for (const key of ['level', 'time', 'msg', 'pid', 'name', 'hostname']) delete rest[key];
  return JSON.stringify(rest);
}
