/**
 * Synthetic hosts put side by side as one big host, for the benchmarks: the k-th host's pids move to
 * their own block (k x pidBlock); init (1) and kthreadd (2) are the first host's, shared by all.
 */
import type { ProcessSample } from '../src/snapshot/types.js';

/**
 * Hosts side by side as a recording must hold them: pids under Linux's limit (2^22, which the reader
 * enforces). Synthetic pids go up to ~1.4 million, so each host's pids are numbered anew in its own
 * block, in order of first sight, the same way in every snapshot (a host uses under 1000 pids).
 */
export class CompactSideBySide {
  private readonly pids: Array<Map<number, number>>;
  private readonly block: number;

  constructor(hosts: number) {
    this.pids = Array.from({ length: hosts }, () => new Map<number, number>());
    this.block = Math.floor(4_194_304 / hosts);
  }

  merge(hosts: ReadonlyArray<readonly ProcessSample[]>): ProcessSample[] {
    return hosts.flatMap((processes, k) => {
      const table = this.pids[k]!;
      const pid = (p: number): number => {
        if (p <= 2) return p;
        let n = table.get(p);
        if (n === undefined) {
          n = k * this.block + 3 + table.size;
          if (n >= (k + 1) * this.block) throw new Error(`host ${k} uses more than ${this.block - 3} pids`);
          table.set(p, n);
        }
        return n;
      };
      return processes.filter((p) => k === 0 || p.pid > 2).map((p) => ({ ...p, pid: pid(p.pid), ppid: pid(p.ppid) }));
    });
  }
}

export function sideBySide(hosts: ReadonlyArray<readonly ProcessSample[]>, pidBlock: number): ProcessSample[] {
  return hosts.flatMap((processes, k) =>
    k === 0
      ? [...processes]
      : processes
          .filter((p) => p.pid > 2) // one init, one kthreadd; every other kernel thread stays under it
          .map((p) => ({ ...p, pid: p.pid + k * pidBlock, ppid: p.ppid <= 2 ? p.ppid : p.ppid + k * pidBlock })),
  );
}
