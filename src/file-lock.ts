/**
 * A lock file holding its owner's pid: one agent per data directory (and per queue). A lock left by
 * a process that is gone (kill -9) is taken over; one held by a live process is refused.
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

/** Takes the lock at `path`; returns the function that gives it up. */
export function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (ownerOf(path) === process.pid) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerOf(path);
    if (owner > 0 && owner !== process.pid && alive(owner)) throw new LockedError(path, owner);
    rmSync(path, { force: true });
  }
  throw new Error(`cannot lock ${path}: another process keeps taking it`);
}

function ownerOf(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
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
