/**
 * Reading a log file that its writer rotates by rename (FILE becomes FILE.1, FILE.1 becomes FILE.2,
 * ...; see RotatingFile): its last lines, across the rotated files, and following it as it grows,
 * across rotations, with no line lost or read twice. A line is whole when it ends with "\n"; a
 * partial last line waits for the rest (or for the file to be rotated away).
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { MAX_ROTATED_LOGS } from '../config/index.js';
import { UserError } from '../command/errors.js';

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

export type LineSink = (line: string) => void;

function tryOpen(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function tryStat(path: string): Stats | null {
  return statSync(path, { throwIfNoEntry: false }) ?? null;
}

/** The file's bytes [start, end). */
function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.allocUnsafe(end - start);
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, start + done);
    if (n === 0) return buf.subarray(0, done);
    done += n;
  }
  return buf;
}

/** The offset just past the last "\n" before `end` (0 when there is none). */
function lastLineEnd(fd: number, end: number): number {
  for (let pos = end; pos > 0; ) {
    const start = Math.max(0, pos - CHUNK);
    const i = readRange(fd, start, pos).lastIndexOf(NEWLINE);
    if (i >= 0) return start + i + 1;
    pos = start;
  }
  return 0;
}

/**
 * Pushes onto `out` (newest first) the lines of bytes [0, end) that `accept` keeps, reading backwards
 * from `end`, until `out` holds `want` lines. A last line without its "\n" counts as whole.
 */
function linesBackwards(fd: number, end: number, want: number, accept: (line: string) => boolean, out: string[]): void {
  const take = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    const line = bytes.toString('utf8');
    if (accept(line)) out.push(line);
  };
  let pos = end;
  if (pos > 0 && readRange(fd, pos - 1, pos)[0] === NEWLINE) pos--; // the terminator of the last line
  let carry = Buffer.alloc(0); // the start of the earliest line seen: its beginning is further back
  while (out.length < want) {
    if (pos === 0) return take(carry);
    const start = Math.max(0, pos - CHUNK);
    const data = Buffer.concat([readRange(fd, start, pos), carry]);
    pos = start;
    let lineEnd = data.length;
    for (let i = data.length - 1; i >= 0 && out.length < want; i--) {
      if (data[i] !== NEWLINE) continue;
      take(data.subarray(i + 1, lineEnd));
      lineEnd = i;
    }
    carry = data.subarray(0, lineEnd);
  }
}

/** A log file opened for reading: `last` lines before the current position, then `follow` it with `poll`. */
export class LogFile {
  private fd: number;
  private ino: number;
  /** Where the next read starts: just past the last whole line seen. */
  private pos: number;
  private pending = Buffer.alloc(0);
  private readonly chunk = Buffer.allocUnsafe(CHUNK);

  /** Opens FILE; a missing file is a UserError with `missing` as its message. */
  constructor(
    readonly path: string,
    missing: string,
  ) {
    let fd: number | null;
    try {
      fd = tryOpen(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UserError(`log file ${path}: ${e.code === 'EACCES' ? 'permission denied (run as root or as the agent\'s user)' : e.message}`);
    }
    if (fd === null) throw new UserError(missing);
    this.fd = fd;
    const st = fstatSync(fd);
    this.ino = st.ino;
    this.pos = lastLineEnd(fd, st.size);
  }

  /** The last `n` lines that `accept` keeps, oldest first: from FILE, then FILE.1, FILE.2, ... as needed. */
  last(n: number, accept: (line: string) => boolean): string[] {
    const out: string[] = [];
    linesBackwards(this.fd, this.pos, n, accept, out);
    for (let i = 1; i <= MAX_ROTATED_LOGS && out.length < n; i++) {
      const fd = tryOpen(`${this.path}.${i}`);
      if (fd === null) break;
      try {
        const st = fstatSync(fd);
        if (st.ino !== this.ino) linesBackwards(fd, st.size, n, accept, out);
      } finally {
        closeSync(fd);
      }
    }
    return out.reverse();
  }

  /** Passes every whole line written since the last call (or since `last`) to `sink`, in order. */
  poll(sink: LineSink): void {
    this.drain(sink);
    const st = tryStat(this.path);
    if (st !== null && st.ino === this.ino) {
      if (st.size < this.pos) {
        // Truncated in place (copytruncate): start again from its beginning.
        this.pos = 0;
        this.pending = Buffer.alloc(0);
        this.drain(sink);
      }
      return;
    }
    // FILE was renamed away (rotated) or removed: the file we hold gets no more lines. Read it to its end.
    this.drain(sink);
    this.flushPending(sink);
    const next = st === null ? null : this.openNext();
    if (next === null) return; // no new FILE yet: look again at the next poll
    for (const fd of next.between) {
      try {
        this.readAll(fd, sink);
      } finally {
        closeSync(fd);
      }
    }
    closeSync(this.fd);
    this.fd = next.fd;
    this.ino = next.ino;
    this.pos = 0;
    this.drain(sink);
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * The new FILE, and the files rotated between the one we held and it (oldest first), all opened and
   * checked by inode, so that a rotation happening meanwhile is noticed (and the search done again).
   */
  private openNext(): { fd: number; ino: number; between: number[] } | null {
    const lastWrite = fstatSync(this.fd).mtimeMs;
    for (;;) {
      const fd = tryOpen(this.path);
      if (fd === null) return null;
      const ino = fstatSync(fd).ino;
      let names: Array<{ name: string; ino: number; mtimeMs: number }> = [];
      let found = false;
      for (let i = 1; i <= MAX_ROTATED_LOGS; i++) {
        const name = `${this.path}.${i}`;
        const st = tryStat(name);
        if (st === null) break;
        if (st.ino === this.ino) {
          found = true;
          break;
        }
        names.push({ name, ino: st.ino, mtimeMs: st.mtimeMs });
      }
      // Our file is gone: rotated past the kept ones (then every rotated file is newer), or removed or
      // moved by someone else (then they are older). Their last writes tell which.
      if (!found) names = names.filter((n) => n.mtimeMs >= lastWrite);
      const between: number[] = [];
      const consistent =
        tryStat(this.path)?.ino === ino &&
        names.every(({ name, ino: expected }) => {
          const f = tryOpen(name);
          if (f !== null) between.push(f);
          return f !== null && fstatSync(f).ino === expected;
        });
      if (consistent) return { fd, ino, between: between.reverse() };
      [fd, ...between].forEach((f) => closeSync(f)); // rotated while we looked: look again
    }
  }

  /** Reads from `pos` to the end of the held file, passing whole lines on and keeping a partial one. */
  private drain(sink: LineSink): void {
    for (;;) {
      const n = readSync(this.fd, this.chunk, 0, CHUNK, this.pos);
      if (n === 0) return;
      this.pos += n;
      this.split(this.chunk.subarray(0, n), sink);
    }
  }

  private split(bytes: Buffer, sink: LineSink): void {
    const last = bytes.lastIndexOf(NEWLINE);
    if (last < 0) {
      this.pending = Buffer.concat([this.pending, bytes]);
      return;
    }
    const text = Buffer.concat([this.pending, bytes.subarray(0, last)]).toString('utf8');
    this.pending = Buffer.from(bytes.subarray(last + 1));
    for (const line of text.split('\n')) if (line !== '') sink(line);
  }

  private flushPending(sink: LineSink): void {
    if (this.pending.length > 0) sink(this.pending.toString('utf8'));
    this.pending = Buffer.alloc(0);
  }

  /** A whole rotated file. */
  private readAll(fd: number, sink: LineSink): void {
    for (let pos = 0; ; ) {
      const n = readSync(fd, this.chunk, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      this.split(this.chunk.subarray(0, n), sink);
    }
    this.flushPending(sink);
  }
}
