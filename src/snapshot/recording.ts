/**
 * Reading and writing recordings: NDJSON, one `nrdot.snapshot/v1` snapshot per line, gzip when the
 * file name ends in `.gz` (writing) or the file starts with the gzip magic bytes (reading).
 */
import { createReadStream, createWriteStream, openSync, readSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { describeFileError } from '../file-errors.js';
import { SNAPSHOT_SCHEMA, type Snapshot } from './types.js';

/** A recording that cannot be read: names the file and, where it applies, the line. */
export class RecordingError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    detail: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
    this.name = 'RecordingError';
  }
}

/** Writes snapshots as NDJSON to a file (gzip for `.gz`) or, for `-`, to stdout. */
export class RecordingWriter {
  private constructor(
    private readonly out: Writable,
    private readonly sink: Writable,
    private readonly ownsSink: boolean,
  ) {}

  static open(path: string): RecordingWriter {
    if (path === '-') return new RecordingWriter(process.stdout, process.stdout, false);
    const file = createWriteStream(path);
    if (!path.endsWith('.gz')) return new RecordingWriter(file, file, true);
    const gzip = createGzip();
    gzip.pipe(file);
    return new RecordingWriter(gzip, file, true);
  }

  /** Calls back on a write error of the file or stream (no such directory, disk full, EPIPE). */
  onError(callback: (err: Error) => void): void {
    this.out.on('error', callback);
    if (this.sink !== this.out) this.sink.on('error', callback);
  }

  /** Resolves once the line is accepted by the stream (waits when the stream asks for it). */
  async write(snapshot: Snapshot): Promise<void> {
    if (!this.out.write(JSON.stringify(snapshot) + '\n')) await once(this.out, 'drain');
  }

  /** Flushes everything (gzip trailer included) and closes the file. */
  async close(): Promise<void> {
    if (!this.ownsSink) return;
    const finished = once(this.sink, 'close');
    this.out.end();
    await finished;
  }
}

function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function describe(err: unknown): string {
  const why = describeFileError(err);
  return (err as NodeJS.ErrnoException).code === 'EISDIR' ? `${why}, not a recording` : why;
}

const HOST_STRINGS = ['id', 'name'] as const;
const PROCESS_STRINGS = ['name', 'exe', 'cmdline', 'user', 'state'] as const;

/**
 * What a value may be. Counters, sizes and times are finite and non-negative, below 2^53 (exact in
 * a double, 8 PiB for a size); pids and thread counts are whole numbers within the kernel's limits
 * (PID_MAX_LIMIT, 2^22); the snapshot's time is before the year 10000.
 */
const MAX_EXACT = Number.MAX_SAFE_INTEGER;
const MAX_PID = 4_194_304;
/** 9999-12-31T23:59:59Z. */
const MAX_TIME = 253_402_300_799;

type Range = readonly [min: number, max: number, whole: boolean];
const COUNTER: Range = [0, MAX_EXACT, false];
const WHOLE: Range = [0, MAX_EXACT, true];
const PID: Range = [0, MAX_PID, true];

const HOST_NUMBERS: ReadonlyArray<readonly [string, Range]> = [
  ['cpus', [1, 1 << 20, true]],
  ['memory_bytes', WHOLE],
  ['boot_time', [0, MAX_TIME, false]],
];
const PROCESS_NUMBERS: ReadonlyArray<readonly [string, Range]> = [
  ['pid', PID], ['ppid', PID], ['start_time', [0, MAX_TIME, false]],
  ['cpu_user_seconds', COUNTER], ['cpu_system_seconds', COUNTER], ['rss_bytes', WHOLE], ['vms_bytes', WHOLE],
  ['threads', PID], ['minor_faults', WHOLE], ['major_faults', WHOLE], ['ctx_voluntary', WHOLE], ['ctx_involuntary', WHOLE],
];
const PROCESS_NULLABLE_NUMBERS: ReadonlyArray<readonly [string, Range]> = [['fds', [0, 1 << 30, true]], ['io_read_bytes', WHOLE], ['io_write_bytes', WHOLE]];

/** Null when `v` is a number within the range, else what it must be. */
function outOfRange(v: unknown, [min, max, whole]: Range): string | null {
  if (typeof v === 'number' && v >= min && v <= max && (!whole || Number.isInteger(v))) return null;
  const what = typeof v === 'number' ? `got ${v}` : `got ${v === null ? 'null' : typeof v}`;
  return `must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max} (${what})`;
}

/**
 * Checks every field the contract fixes, values within what is physically possible (a hand-written
 * check: this runs for every process of every snapshot, so it must cost little next to JSON parsing).
 * Returns the first problem, or null.
 */
export function checkSnapshot(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const s = value as Record<string, unknown>;
  if (s.schema !== SNAPSHOT_SCHEMA) return `field "schema" must be "${SNAPSHOT_SCHEMA}", got ${JSON.stringify(s.schema)}`;
  if (typeof s.host !== 'object' || s.host === null) return 'field "host" must be an object';
  const host = s.host as Record<string, unknown>;
  for (const k of HOST_STRINGS) if (typeof host[k] !== 'string') return `host.${k} must be a string`;
  for (const [k, range] of HOST_NUMBERS) {
    const bad = outOfRange(host[k], range);
    if (bad) return `host.${k} ${bad}`;
  }
  const time = outOfRange(s.timestamp, [0, MAX_TIME, false]);
  if (time) return `field "timestamp" ${time}`;
  if (!Array.isArray(s.processes)) return 'field "processes" must be an array';
  const processes = s.processes as unknown[];
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null) return `processes[${i}] must be an object`;
    for (const [k, range] of PROCESS_NUMBERS) {
      const bad = outOfRange(p[k], range);
      if (bad) return `processes[${i}].${k} ${bad}`;
    }
    for (const k of PROCESS_STRINGS) if (typeof p[k] !== 'string') return `processes[${i}].${k} must be a string`;
    for (const [k, range] of PROCESS_NULLABLE_NUMBERS) {
      if (p[k] === null) continue;
      const bad = outOfRange(p[k], range);
      if (bad) return `processes[${i}].${k} ${bad} or null`;
    }
    if (p.cgroup !== undefined && p.cgroup !== null && typeof p.cgroup !== 'string') return `processes[${i}].cgroup must be a string or null`;
  }
  return null;
}

/** Large chunks: fewer round trips to the thread that inflates, and fewer partial lines. */
const CHUNK = 1 << 20;
/**
 * The longest line read (64 MiB): a snapshot of 10,000 processes is about 5 MB. A longer one is an
 * error as soon as it passes the bound, before it is held whole.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
const NEWLINE = 0x0a;

class LineTooLong extends Error {}

function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * Splits a byte stream into lines (LF or CRLF). Works on bytes (a newline byte is never inside a
 * multi-byte UTF-8 character) and decodes each line once, so a long line costs its length, not its
 * square; throws LineTooLong past MAX_LINE_BYTES.
 */
async function* lines(input: Readable): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  const take = (last: Buffer): string => {
    let line = parts.length === 0 ? last : Buffer.concat([...parts, last]);
    parts = [];
    partBytes = 0;
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    return line.toString('utf8');
  };
  for await (const chunk of input) {
    const buf = chunk as Buffer;
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
      if (partBytes + nl - start > MAX_LINE_BYTES) throw new LineTooLong();
      yield take(buf.subarray(start, nl));
      start = nl + 1;
    }
    if (start < buf.length) {
      partBytes += buf.length - start;
      if (partBytes > MAX_LINE_BYTES) throw new LineTooLong();
      parts.push(buf.subarray(start));
    }
  }
  if (partBytes > 0) yield take(Buffer.alloc(0));
}

/**
 * Streams the snapshots of a recording, one at a time, so memory stays bounded by one snapshot.
 * Throws RecordingError naming the file and line on anything that is not a snapshot, or a value that
 * cannot be (a negative counter, a size beyond 2^53). A snapshot whose time is not after the previous
 * one's is skipped: `warn` (by default, a line on stderr) hears of the first (file:line) and, at the
 * end, of how many there were.
 */
export async function* readRecording(path: string, warn: (message: string) => void = warnOnStderr): AsyncGenerator<Snapshot> {
  let input: Readable;
  try {
    const gzip = isGzip(path); // also the check that the file exists and is readable
    const raw = createReadStream(path, { highWaterMark: CHUNK });
    input = gzip ? raw.pipe(createGunzip({ chunkSize: CHUNK })) : raw;
    raw.on('error', (err) => input.destroy(err));
  } catch (err) {
    throw new RecordingError(path, null, describe(err));
  }
  let lineNo = 0;
  let previous = Number.NEGATIVE_INFINITY;
  let skipped = 0;
  try {
    for await (const line of lines(input)) {
      lineNo++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new RecordingError(path, lineNo, `invalid JSON (${(err as Error).message})`);
      }
      const problem = checkSnapshot(value);
      if (problem) throw new RecordingError(path, lineNo, problem);
      const snapshot = value as Snapshot;
      if (snapshot.timestamp <= previous) {
        if (skipped++ === 0) {
          warn(`${path}:${lineNo}: timestamp ${snapshot.timestamp} is not after the previous snapshot's (${previous}): snapshot skipped, as every one out of time order`);
        }
        continue;
      }
      previous = snapshot.timestamp;
      yield snapshot;
    }
  } catch (err) {
    if (err instanceof RecordingError) throw err;
    if (err instanceof LineTooLong) throw new RecordingError(path, lineNo + 1, `line longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB: not a snapshot`);
    throw new RecordingError(path, lineNo + 1, describe(err));
  } finally {
    input.destroy();
    if (skipped > 1) warn(`${path}: ${skipped} snapshots out of time order skipped in all`);
  }
}
