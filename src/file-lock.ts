/**
 * A lock file holding its owner's pid: one agent per data directory (and per queue). A lock left by
 * a process that is gone (kill -9) is taken over; one held by a live process is refused.
 *
 * After a crash and a reboot, the pid in a stale lock may belong to another process: the lock also
 * records the owner's boot and start time (its second line, `boot=<boot_id> start=<ticks>`, from
 * /proc), and a pid whose boot or start time differs is not the owner. A lock of an older version (the
 * pid alone) is the owner's only when that process runs nrdot-plus (its command line names
 * `nrdot-plus` or `agent/main.js`). Without /proc, a live pid is the owner.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';

export class LockedError extends Error {
  constructor(
    readonly path: string,
    /** The owner's pid, or 0 for a lock being written (empty or unparsable, and young). */
    readonly owner: number,
  ) {
    super(`${path} is held by ${owner ? `pid ${owner}` : 'a process writing it now'}`);
    this.name = 'LockedError';
  }

  /** The owner, for messages: "pid 123", or "starting" for a lock being written. */
  get who(): string {
    return this.owner ? `pid ${this.owner}` : 'starting';
  }
}

interface Identity {
  boot: string;
  start: string;
}

interface Lock {
  pid: number;
  recorded: Identity | null;
  /** The file read: its inode and change time, to tell it from a later lock at the same path. */
  file: string;
  mtimeMs: number;
}

/** An empty or unparsable lock younger than this is being written (by an older version, which created it, then wrote it): held. */
const BEING_WRITTEN_MS = 5000;
/** How long a takeover waits for an earlier taker that is alive (it needs microseconds) before giving up. */
const TAKER_WAIT_MS = 2000;

/**
 * Takes the lock at `path`; returns the function that gives it up.
 *
 * The lock file never exists empty: it is written whole under a temporary name, then linked to
 * `path`, which fails when a lock is there. A stale lock is replaced with rename() (atomically, so
 * the path never stands empty for another starter to link) by one taker only: the one that links
 * the first claim file named after that lock's inode and time, `<path>.takeover-<ino>-<mtime>-<k>`.
 * Claims are numbered; a later claim proceeds only when the takers of the earlier ones have died,
 * and checks, holding its claim, that the stale lock is still at the path. No claim is removed
 * while that lock is there, so two takers never replace it both, and no taker replaces a new lock.
 */
export function acquireLock(path: string): () => void {
  const tmp = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  writeWhole(tmp, lockText(process.pid));
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        linkSync(tmp, path);
        return releaser(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const lock = readLock(path);
      if (lock === null) continue; // given up meanwhile
      if (lock.pid === 0 && Date.now() - lock.mtimeMs < BEING_WRITTEN_MS) throw new LockedError(path, 0);
      if (lock.pid > 0 && lock.pid !== process.pid && owns(lock)) throw new LockedError(path, lock.pid);
      if (takeOver(path, lock, tmp)) return releaser(path);
    }
    throw new Error(`cannot lock ${path}: another process keeps taking it`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function releaser(path: string): () => void {
  return () => {
    if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
  };
}

/** Replaces the stale lock at `path` with the file `tmp`; false when another process replaced it first. */
function takeOver(path: string, stale: Lock, tmp: string): boolean {
  const claimOf = (k: number): string => `${path}.takeover-${stale.file}-${k}`;
  for (let k = 0; k < 100; k++) {
    try {
      linkSync(tmp, claimOf(k));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      continue;
    }
    for (let j = 0; j < k; j++) {
      const deadline = Date.now() + TAKER_WAIT_MS;
      for (;;) {
        if (readLock(path)?.file !== stale.file) return giveUp(claimOf(k));
        const taker = readLock(claimOf(j));
        if (taker === null || !owns(taker)) break;
        if (Date.now() > deadline) throw new Error(`cannot lock ${path}: pid ${taker.pid} has been taking it over for ${TAKER_WAIT_MS / 1000} s`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    if (readLock(path)?.file !== stale.file) return giveUp(claimOf(k));
    renameSync(tmp, path);
    for (let j = 0; j < 100; j++) rmSync(claimOf(j), { force: true });
    return true;
  }
  throw new Error(`cannot lock ${path}: too many claims to take it over (remove ${path}.takeover-*)`);
}

/** The stale lock is gone: no taker can proceed any more, so the claim goes. */
function giveUp(claim: string): false {
  rmSync(claim, { force: true });
  return false;
}

/** Writes `path` (which must not exist) whole and to disk. */
function writeWhole(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a lock held by `pid` holds: the pid, then its boot and start time when /proc tells them. */
export function lockText(pid: number): string {
  const id = identity(pid);
  return `${pid}\n${id ? `boot=${id.boot} start=${id.start}\n` : ''}`;
}

/** The lock at `path`, or null when there is none. */
function readLock(path: string): Lock | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const text = readFileSync(fd, 'utf8');
    const [first = '', second = ''] = text.split('\n');
    const pid = /^\d{1,9}$/.test(first.trim()) ? Number(first.trim()) : 0;
    const m = /^boot=(\S+) start=(\d+)$/.exec(second.trim());
    return { pid, recorded: m ? { boot: m[1]!, start: m[2]! } : null, file: `${st.ino}-${st.mtimeNs}`, mtimeMs: Number(st.mtimeMs) };
  } finally {
    closeSync(fd);
  }
}

/** Whether the process the lock names still holds it. */
function owns(lock: Lock): boolean {
  if (!alive(lock.pid)) return false;
  const now = identity(lock.pid);
  if (now === null) return true; // no /proc to tell: a live pid is the owner
  if (lock.recorded) return lock.recorded.boot === now.boot && lock.recorded.start === now.start;
  return runsNrdotPlus(lock.pid);
}

/** The boot id and the process's start time in clock ticks since boot (/proc/PID/stat, field 22), or null without /proc. */
function identity(pid: number): Identity | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or parentheses: fields after the last ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return boot && start ? { boot, start } : null;
  } catch {
    return null;
  }
}

function runsNrdotPlus(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => /(^|\/)nrdot-plus(-ctl)?$/.test(a) || /agent\/main\.js$/.test(a));
  } catch {
    return true; // a process whose command line cannot be read: assume the owner rather than take its lock
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
