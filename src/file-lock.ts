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
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

export class LockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: number,
  ) {
    super(`${path} is held by pid ${owner}`);
    this.name = 'LockedError';
  }
}

interface Identity {
  boot: string;
  start: string;
}

/** Takes the lock at `path`; returns the function that gives it up. */
export function acquireLock(path: string): () => void {
  const content = lockText(process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, content, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readLock(path).pid === process.pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const lock = readLock(path);
    if (lock.pid > 0 && lock.pid !== process.pid && owns(lock)) throw new LockedError(path, lock.pid);
    rmSync(path, { force: true });
  }
  throw new Error(`cannot lock ${path}: another process keeps taking it`);
}

/** What a lock held by `pid` holds: the pid, then its boot and start time when /proc tells them. */
export function lockText(pid: number): string {
  const id = identity(pid);
  return `${pid}\n${id ? `boot=${id.boot} start=${id.start}\n` : ''}`;
}

function readLock(path: string): { pid: number; recorded: Identity | null } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { pid: 0, recorded: null };
  }
  const [first = '', second = ''] = text.split('\n');
  const m = /^boot=(\S+) start=(\d+)$/.exec(second.trim());
  return { pid: Number(first.trim()) || 0, recorded: m ? { boot: m[1]!, start: m[2]! } : null };
}

/** Whether the process the lock names still holds it. */
function owns(lock: { pid: number; recorded: Identity | null }): boolean {
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
