/** Low-level reading: errno to outcome codes, and what kind of filesystem a root is. */
import { statfsSync, statSync } from 'node:fs';

/** Outcome codes of a read; non-negative values are byte counts. */
export const GONE = -1; // ENOENT, ESRCH: the process exited
export const DENIED = -2; // EACCES, EPERM
export const FAILED = -3; // anything else

export function errorCode(err: unknown): number {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
    case 'ESRCH':
      return GONE;
    case 'EACCES':
    case 'EPERM':
      return DENIED;
    default:
      return FAILED;
  }
}

const PROC_SUPER_MAGIC = 0x9fa0;

export function isProcMount(root: string): boolean {
  try {
    return statfsSync(root).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export function fdDirReportsCount(root: string): boolean {
  try {
    // This process has stdin/stdout/stderr at least; older kernels report 0.
    return statSync(root + '/self/fd').size > 0;
  } catch {
    return false;
  }
}
