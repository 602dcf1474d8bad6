/**
 * `node dist/bench/procfs-worker.js ROOT SCRAPES [WARMUP]`: our procfs reader, alone in its own process.
 *
 * Mirrors bench/c/scrape.c: WARMUP unmeasured reads (default 1; the benchmark passes every tool
 * the same number), then SCRAPES reads measured with process.cpuUsage(), which is
 * getrusage(RUSAGE_SELF): every thread of the process, so garbage collection and JIT compilation
 * on V8's helper threads are counted too. Prints one JSON line in the C program's shape.
 *
 * Warm-up matters more here than in C: the first read sees every process for the first time (opens
 * its held files, reads exe, cmdline and cgroup), and V8 only optimizes the hot path after it has
 * run a while (with 1000 processes, the first ~10 reads cost up to twice the steady state).
 */
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ProcfsReader } from '../src/procfs/index.js';

function main(argv: string[]): void {
  const [root, scrapesArg, warmupArg] = argv;
  const scrapes = Number(scrapesArg);
  const warmup = Number(warmupArg ?? 1);
  if (root === undefined || !Number.isInteger(scrapes) || scrapes < 1 || !Number.isInteger(warmup) || warmup < 1) {
    process.stderr.write('usage: procfs-worker ROOT SCRAPES [WARMUP]\n');
    process.exitCode = 2;
    return;
  }
  const reader = new ProcfsReader({ root, intervalSeconds: 60 });
  try {
    for (let i = 0; i < warmup; i++) reader.read();
    let processes = 0;
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < scrapes; i++) {
      // Keep the last count so the snapshot is used, as an agent would use it.
      processes = reader.read().snapshot.processes.length;
    }
    const cpu = process.cpuUsage(cpu0);
    const wallUs = (performance.now() - wall0) * 1000;
    // Held descriptors show whether the reader ran in its fast mode (its budget is the soft limit).
    const openFds = readdirSync('/proc/self/fd').length - 1;
    const result = {
      tool: 'nrdot-plus',
      processes,
      scrapes,
      warmup,
      cpu_us_per_scrape: round1((cpu.user + cpu.system) / scrapes),
      user_us: cpu.user,
      sys_us: cpu.system,
      wall_us_per_scrape: round1(wallUs / scrapes),
      open_fds: openFds,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    reader.close();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

main(process.argv.slice(2));
