/**
 * What processes with hostile command lines cost the agent per interval (issue 12): 10 processes
 * whose arguments are 4 x 128 KiB of `a.a.a…` (what made the URL-credential regex quadratic),
 * respawned every interval so that each interval sees them for the first time, beside about 1000
 * ordinary processes.
 *
 * Synthetic (default): the four synthetic archetypes side by side (~1000 processes) through the
 * real pipeline (balanced), with and without the 10 hostile processes, their command lines whole
 * as a recording could hold them; the extra per interval is the difference of the medians.
 * `--real`: the same on this machine's /proc with real processes: 1000 idle `sleep`s, and each
 * round 10 new processes, hostile or ordinary (`sleep` with short arguments), read by the receiver
 * and run through the pipeline; the extra is the difference of the medians of the two.
 *
 *   npm run bench:hostile                         # synthetic, 20 intervals
 *   node dist/bench/hostile.js --real --rounds 10 # real processes
 *   node dist/bench/hostile.js --intervals 2 --warmup 0   # on code where one interval takes minutes
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/index.js';
import { emptyState, Pipeline, type PipelineState } from '../src/pipeline/index.js';
import { ProcfsReader } from '../src/procfs/index.js';
import { ARCHETYPES, generate } from '../src/snapshot/synth.js';
import type { ProcessSample, Snapshot } from '../src/snapshot/types.js';
import { sideBySide } from './side-by-side.js';

const { values: opts } = parseArgs({
  options: {
    intervals: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    hostile: { type: 'string', default: '10' },
    real: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '10' },
    procs: { type: 'string', default: '1000' },
  },
});
const HOSTILE = Number(opts.hostile);
/** One argument of 128 KiB (the kernel's limit for one), four of them per process. */
const ARG = 'a.'.repeat(65535);
const HOSTILE_ARGS = ['-c', 'sleep 300; :', 'evil', ARG, ARG, ARG, ARG];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(1)} ms`;

/** ~1000 processes: the archetypes merged, pids offset, one kernel. */
function bigHost(intervals: number): Snapshot[] {
  const runs = ARCHETYPES.map((archetype) => generate({ archetype, intervals, seed: 1 }).snapshots);
  return runs[0]!.map((first, i) => ({ ...first, processes: sideBySide(runs.map((run) => run[i]!.processes), 1_000_000) }));
}

/** The hostile processes of interval i: new identities every interval, as if respawned. */
function hostile(s: Snapshot, i: number): ProcessSample[] {
  return Array.from({ length: HOSTILE }, (_, k) => ({
    // A string of its own per process, as a recording's reader makes them.
    pid: 9_000_000 + i * 100 + k, ppid: 1, name: 'bash', exe: '/usr/bin/bash', cmdline: ['bash', ...HOSTILE_ARGS, String(k)].join(' '), user: 'mallory',
    state: 'S', start_time: s.timestamp - 1, cpu_user_seconds: 0, cpu_system_seconds: 0, rss_bytes: 3 << 20, vms_bytes: 8 << 20, threads: 1,
    fds: 3, io_read_bytes: 0, io_write_bytes: 0, minor_faults: 100, major_faults: 0, ctx_voluntary: 1, ctx_involuntary: 0,
  }));
}

function synthetic(): void {
  const intervals = Number(opts.intervals);
  const warmup = Number(opts.warmup);
  const snapshots = bigHost(intervals + warmup);
  const config = defaultConfig();
  const plain = new Pipeline(config, 'balanced');
  const evil = new Pipeline(config, 'balanced');
  let plainState: PipelineState = emptyState();
  let evilState: PipelineState = emptyState();
  const without: number[] = [];
  const withHostile: number[] = [];
  snapshots.forEach((s, i) => {
    const withThem = { ...s, processes: [...s.processes, ...hostile(s, i)] };
    // Alternately first: the second of two runs finds the caches warm.
    const runPlain = (): number => {
      const t0 = performance.now();
      plainState = plain.run(s, plainState).state;
      return performance.now() - t0;
    };
    const runEvil = (): number => {
      const t0 = performance.now();
      evilState = evil.run(withThem, evilState).state;
      return performance.now() - t0;
    };
    const [a, b] = i % 2 ? [runPlain(), runEvil()] : ((e, p) => [p, e])(runEvil(), runPlain());
    if (i < warmup) return;
    without.push(a);
    withHostile.push(b);
    process.stderr.write(`interval ${i - warmup + 1}: without ${ms(a)}, with ${ms(b)}\n`);
  });
  const n = snapshots[0]!.processes.length;
  console.log(`synthetic: ${n} processes, + ${HOSTILE} hostile (4 x 128 KiB of "a.", new every interval), pipeline (balanced), ${intervals} intervals after ${warmup}`);
  console.log(`  without: median ${ms(median(without))}`);
  console.log(`  with:    median ${ms(median(withHostile))}, max ${ms(Math.max(...withHostile))}`);
  console.log(`  extra per interval: ${ms(median(withHostile) - median(without))} (target: at most 50 ms)`);
}

async function real(): Promise<void> {
  const rounds = Number(opts.rounds);
  const children = new Set<ChildProcess>();
  const kill = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('SIGINT', () => (kill(), process.exit(130)));
  process.on('SIGTERM', () => (kill(), process.exit(143)));
  const start = async (cmd: string, args: string[]): Promise<ChildProcess> => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    children.add(c);
    await once(c, 'spawn');
    return c;
  };
  try {
    for (let i = 0; i < Number(opts.procs); i++) await start('sleep', ['100000']);
    const reader = new ProcfsReader({ intervalSeconds: 10 });
    const pipeline = new Pipeline(defaultConfig(), 'balanced');
    let state = emptyState();
    const times: Record<'hostile' | 'ordinary', number[]> = { hostile: [], ordinary: [] };
    const round = async (kind: 'hostile' | 'ordinary'): Promise<number> => {
      const batch = await Promise.all(Array.from({ length: HOSTILE }, () => (kind === 'hostile' ? start('bash', HOSTILE_ARGS) : start('bash', ['-c', 'sleep 300; :', 'plain']))));
      const t0 = performance.now();
      const { snapshot } = reader.read();
      state = pipeline.run(snapshot, state).state;
      const took = performance.now() - t0;
      for (const c of batch) {
        c.kill('SIGKILL');
        await once(c, 'exit');
        children.delete(c);
      }
      return took;
    };
    for (let i = 0; i < 3; i++) await round('ordinary'); // warm-up: first sight of the idle ones, JIT
    for (let i = 0; i < rounds; i++) {
      for (const kind of i % 2 ? (['hostile', 'ordinary'] as const) : (['ordinary', 'hostile'] as const)) {
        const took = await round(kind);
        times[kind].push(took);
        process.stderr.write(`round ${i + 1} ${kind}: ${ms(took)}\n`);
      }
    }
    reader.close();
    console.log(`real /proc: ${opts.procs} idle sleeps + ${HOSTILE} new processes per round, receiver read + pipeline (balanced), ${rounds} rounds each`);
    console.log(`  ${HOSTILE} ordinary new (bash -c 'sleep 300; :' plain): median ${ms(median(times.ordinary))}`);
    console.log(`  ${HOSTILE} hostile new (bash -c 'sleep 300; :' evil + 4 x 128 KiB): median ${ms(median(times.hostile))}, max ${ms(Math.max(...times.hostile))}`);
    console.log(`  extra per interval: ${ms(median(times.hostile) - median(times.ordinary))} (target: at most 50 ms)`);
  } finally {
    kill();
  }
}

if (opts.real) await real();
else synthetic();
