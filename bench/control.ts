/**
 * `node dist/bench/control.js [--archetype NAME ...] [--seed S]`: the control loop over a synthetic
 * day, as issue 6 asks to show it. For each archetype: a day of snapshots a minute apart (`synth`,
 * with its daily load pattern), the mean cost of `balanced` over the day, then `simulate --control`
 * with an absolute budget of 90% of that, in both billing models. Prints, per run, the share of
 * intervals within budget (target >= 95%), the profile changes (target <= 12), the lowest critical
 * coverage (target 1.0), and the timeline of changes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { simulate } from '../src/cli/simulate.js';
import { defaultConfig, type Config } from '../src/config/index.js';
import { runControlOffline } from '../src/control/offline.js';
import { ARCHETYPES } from '../src/snapshot/synth.js';
import { readRecording } from '../src/snapshot/recording.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CTL = join(REPO, 'bin/nrdot-plus-ctl');

const { values } = parseArgs({ options: { archetype: { type: 'string', multiple: true }, seed: { type: 'string', default: '1' } } });
const archetypes = values.archetype ?? [...ARCHETYPES];
const dir = mkdtempSync(join(tmpdir(), 'nrdot-bench-control-'));
const iso = (t: number): string => new Date(t * 1000).toISOString().slice(11, 16);
let failures = 0;

try {
  console.log('control loop over a synthetic day (1440 snapshots, 60 s apart), absolute budget = 90% of balanced\'s mean cost');
  console.log('targets: within budget >= 95% of intervals, <= 12 profile changes, critical coverage 1.0\n');
  for (const archetype of archetypes) {
    const file = join(dir, `${archetype}.ndjson.gz`);
    execFileSync(process.execPath, [CTL, 'synth', '--archetype', archetype, '--intervals', '1440', '--seed', values.seed, '--output', file], { stdio: 'ignore' });
    for (const model of ['bytes', 'datapoints'] as const) {
      const config: Config = defaultConfig();
      config.cost_model.billing_model = model;
      const [balanced] = await simulate(config, ['balanced'], file);
      const budget = (0.9 * balanced!.cost_per_month_optimized) / 730;
      config.control_loop.max_cost_per_hour = budget;
      const t0 = performance.now();
      const run = await runControlOffline(config, readRecording(file));
      const seconds = (performance.now() - t0) / 1000;
      const within = run.within_budget / run.intervals;
      const ok = within >= 0.95 && run.changes <= 12 && run.coverage_critical_min === 1;
      if (!ok) failures++;
      const share = Object.entries(run.profiles).map(([p, n]) => `${p} ${((n / run.intervals) * 100).toFixed(1)}%`).join(', ');
      console.log(
        `${archetype.padEnd(9)} ${model.padEnd(10)} budget ${budget.toPrecision(3)} USD/h (balanced ${(balanced!.cost_per_month_optimized / 730).toPrecision(3)})  ` +
          `within budget ${run.within_budget}/${run.intervals} (${(within * 100).toFixed(1)}%)  changes ${run.changes}  coverage min ${run.coverage_critical_min ?? 'n/a'}  ` +
          `cost mean ${run.cost_per_hour_mean.toPrecision(3)} USD/h  [${share}]  ${ok ? 'ok' : 'MISSED'}  (${seconds.toFixed(1)} s)`,
      );
      for (const e of run.timeline) console.log(`    ${iso(e.time)}  ${e.from} -> ${e.to}  (${e.who}) ${e.reason}`);
    }
  }
  console.log(`\nsame as: nrdot-plus-ctl synth --archetype NAME --intervals 1440 -o day.ndjson.gz; nrdot-plus-ctl simulate -i day.ndjson.gz --control --budget-per-hour USD [--config billing.yaml]`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failures > 0) {
  console.log(`${failures} run(s) missed a target`);
  process.exitCode = 1;
}
