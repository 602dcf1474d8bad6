/**
 * Synthetic hosts put side by side as one big host, for the benchmarks: the k-th host's pids move to
 * their own block (k x pidBlock); init (1) and kthreadd (2) are the first host's, shared by all.
 */
import type { ProcessSample } from '../src/snapshot/types.js';

export function sideBySide(hosts: ReadonlyArray<readonly ProcessSample[]>, pidBlock: number): ProcessSample[] {
  return hosts.flatMap((processes, k) =>
    k === 0
      ? [...processes]
      : processes
          .filter((p) => p.pid > 2) // one init, one kthreadd; every other kernel thread stays under it
          .map((p) => ({ ...p, pid: p.pid + k * pidBlock, ppid: p.ppid <= 2 ? p.ppid : p.ppid + k * pidBlock })),
  );
}
