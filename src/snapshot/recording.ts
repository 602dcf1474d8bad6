/**
 * Reading and writing recordings: NDJSON, one `nrdot.snapshot/v1` snapshot per line, gzip when the
 * file name ends in `.gz` (writing) or the file starts with the gzip magic bytes (reading).
 */
import { createReadStream, createWriteStream, openSync, readSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
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
const HOST_NUMBERS = ['cpus', 'memory_bytes', 'boot_time'] as const;
const PROCESS_STRINGS = ['name', 'exe', 'cmdline', 'user', 'state'] as const;
const PROCESS_NUMBERS = [
  'pid', 'ppid', 'start_time', 'cpu_user_seconds', 'cpu_system_seconds', 'rss_bytes', 'vms_bytes', 'threads',
  'minor_faults', 'major_faults', 'ctx_voluntary', 'ctx_involuntary',
] as const;
const PROCESS_NULLABLE_NUMBERS = ['fds', 'io_read_bytes', 'io_write_bytes'] as const;

const isNumber = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks every field the contract fixes (a hand-written check: this runs for every process of
 * every snapshot, so it must cost little next to JSON parsing). Returns the first problem, or null.
 */
export function checkSnapshot(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const s = value as Record<string, unknown>;
  if (s.schema !== SNAPSHOT_SCHEMA) return `field "schema" must be "${SNAPSHOT_SCHEMA}", got ${JSON.stringify(s.schema)}`;
  if (typeof s.host !== 'object' || s.host === null) return 'field "host" must be an object';
  const host = s.host as Record<string, unknown>;
  for (const k of HOST_STRINGS) if (typeof host[k] !== 'string') return `host.${k} must be a string`;
  for (const k of HOST_NUMBERS) if (!isNumber(host[k])) return `host.${k} must be a number`;
  if (!isNumber(s.timestamp)) return 'field "timestamp" must be a number';
  if (!Array.isArray(s.processes)) return 'field "processes" must be an array';
  const processes = s.processes as unknown[];
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null) return `processes[${i}] must be an object`;
    for (const k of PROCESS_NUMBERS) if (!isNumber(p[k])) return `processes[${i}].${k} must be a number`;
    for (const k of PROCESS_STRINGS) if (typeof p[k] !== 'string') return `processes[${i}].${k} must be a string`;
    for (const k of PROCESS_NULLABLE_NUMBERS) if (p[k] !== null && !isNumber(p[k])) return `processes[${i}].${k} must be a number or null`;
    if (p.cgroup !== undefined && p.cgroup !== null && typeof p.cgroup !== 'string') return `processes[${i}].cgroup must be a string or null`;
  }
  return null;
}

/**
 * Streams the snapshots of a recording, one at a time, so memory stays bounded by one snapshot.
 * Throws RecordingError naming the file and line on anything that is not a snapshot.
 */
/** Large chunks: fewer round trips to the thread that inflates, and fewer partial lines. */
const CHUNK = 1 << 20;

/** Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk boundaries. */
async function* lines(input: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      yield text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl);
      start = nl + 1;
    }
    rest = start === 0 ? text : text.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield rest;
}

export async function* readRecording(path: string): AsyncGenerator<Snapshot> {
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
      yield value as Snapshot;
    }
  } catch (err) {
    if (err instanceof RecordingError) throw err;
    throw new RecordingError(path, lineNo + 1, describe(err));
  } finally {
    input.destroy();
  }
}
