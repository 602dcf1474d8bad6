/**
 * `node --expose-gc dist/bench/shadows.js [--copies N] [--intervals N] [--pace MS] [--json]`: what the
 * shadow profiles cost the agent per interval, beside the pipeline of the profile in force.
 *
 * A host of about 1000 processes (the four synthetic archetypes side by side; `--copies 10`: about
 * 10,000), one snapshot every 10 s, through the agent's Optimizer in `balanced` (no exporter) and the
 * default shadow profiles (the other four), as the daemon runs them. CPU (process.cpuUsage, every
 * thread) of each part per interval after a warm-up of 10 intervals: median, mean and p90; and the
 * heap retained after a full GC with and without the shadows. `--pace MS` sleeps between intervals,
 * as an agent does (colder caches, V8's idle-time GC), where back to back flatters the CPU.
 */
import { parseArgs } from 'node:util';
import { Optimizer } from '../src/agent/optimizer.js';
import { ShadowProfiles } from '../src/agent/shadows.js';
import { defaultConfig } from '../src/config/index.js';
import { ARCHETYPES, generate } from '../src/snapshot/synth.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { sideBySide } from './side-by-side.js';

const WARMUP = 10;

const { values } = parseArgs({
  options: {
    copies: { type: 'string', default: '1' },
    intervals: { type: 'string', default: '70' },
    pace: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});
const copies = Number(values.copies);
const intervals = Number(values.intervals);
const pace = Number(values.pace);
if (!(Number.isInteger(copies) && copies >= 1 && Number.isInteger(intervals) && intervals > WARMUP && pace >= 0)) {
  process.stderr.write(`--copies: 1 or more; --intervals: more than ${WARMUP}; --pace: milliseconds, 0 or more\n`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc (for the retained heap)\n');
  process.exit(2);
}

/** The archetypes side by side, `copies` times over (seeds 1..copies), pids apart. */
function host(): Snapshot[] {
  const runs: Snapshot[][] = [];
  for (let seed = 1; seed <= copies; seed++) for (const archetype of ARCHETYPES) runs.push(generate({ archetype, intervals, seed, intervalSeconds: 10 }).snapshots);
  return runs[0]!.map((first, i) => ({ ...first, host: { ...first.host, name: 'bench-shadows' }, processes: sideBySide(runs.map((run) => run[i]!.processes), 1_000_000) }));
}

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

async function measure(snapshots: Snapshot[], withShadows: boolean): Promise<{ real: number[]; shadows: number[]; retained: number }> {
  const config = defaultConfig();
  gc!();
  const before = process.memoryUsage().heapUsed;
  const optimizer = new Optimizer(config, 'balanced', { file: null, otlp: null });
  const shadows = new ShadowProfiles(config, withShadows ? config.advanced.shadow_profiles : [], optimizer);
  const real: number[] = [];
  const shadow: number[] = [];
  for (const s of snapshots) {
    const started = process.cpuUsage();
    optimizer.process(s, { cadenceSeconds: 10 });
    real.push(cpuMs(started));
    shadow.push(shadows.run(s, optimizer.profile, { cadenceSeconds: 10, extraSelf: optimizer.lastExtraSelf }).cpuMs);
    if (pace > 0) await new Promise((resolve) => setTimeout(resolve, pace));
  }
  gc!();
  const retained = process.memoryUsage().heapUsed - before;
  void [optimizer.lastKpis, shadows.profiles]; // both alive until measured
  return { real: real.slice(WARMUP), shadows: shadow.slice(WARMUP), retained };
}

function stats(xs: number[]): { median: number; mean: number; p90: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return { median: round(sorted[Math.floor(sorted.length / 2)]!), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length), p90: round(sorted[Math.floor(sorted.length * 0.9)]!) };
}

const snapshots = host();
const processes = Math.round(snapshots.reduce((n, s) => n + s.processes.length, 0) / snapshots.length);
const off = await measure(snapshots, false);
const on = await measure(snapshots, true);
const result = {
  processes,
  intervals: snapshots.length - WARMUP,
  pace_ms: pace,
  shadow_profiles: defaultConfig().advanced.shadow_profiles.filter((p) => p !== 'balanced'),
  real_cpu_ms: stats(on.real),
  shadows_cpu_ms: stats(on.shadows),
  retained_heap_bytes: { without_shadows: off.retained, with_shadows: on.retained },
};
if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const ms = (s: { median: number; mean: number; p90: number }): string => `median ${s.median} ms, mean ${s.mean} ms, p90 ${s.p90} ms`;
  const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
  console.log(`${processes} processes, ${result.intervals} intervals of 10 s after ${WARMUP} (${pace ? `${pace} ms apart` : 'back to back'}); balanced in force`);
  console.log(`pipeline of the profile in force (Optimizer.process, no exporter): ${ms(result.real_cpu_ms)}`);
  console.log(`shadow profiles (${result.shadow_profiles.join(', ')}):  ${ms(result.shadows_cpu_ms)}`);
  console.log(`  at a 10 s interval: ${((result.shadows_cpu_ms.mean / 10_000) * 100).toFixed(3)}% of one core`);
  console.log(`heap retained after a full GC: ${mb(off.retained)} without shadows, ${mb(on.retained)} with (+${mb(on.retained - off.retained)})`);
}
