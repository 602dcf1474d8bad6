/**
 * `npm run bench:visibility [-- --input FILE ...] [--intervals N] [--interval S]`: the visibility
 * each profile gives on every synthetic archetype (and on recordings of real hosts), which is what
 * the control loop's `min_visibility` default is chosen from (docs/control.md). For each host: a
 * synthetic day (`synth`, N snapshots S seconds apart, default 96 x 900 s: the daily load pattern
 * at a quarter-hour's resolution), run through every built-in profile as `simulate --json` does;
 * prints the mean CPU and memory visibility and the smaller of the two, per profile.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { simulate } from '../src/cli/simulate.js';
import { defaultConfig } from '../src/config/index.js';
import { LADDER } from '../src/control/loop.js';
import { ARCHETYPES } from '../src/snapshot/synth.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CTL = join(REPO, 'bin/nrdot-plus-ctl');

const { values } = parseArgs({
  options: { input: { type: 'string', multiple: true }, intervals: { type: 'string', default: '96' }, interval: { type: 'string', default: '900' } },
});
const dir = mkdtempSync(join(tmpdir(), 'nrdot-bench-visibility-'));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`.padStart(7);

try {
  const hosts: Array<[string, string]> = [];
  for (const archetype of ARCHETYPES) {
    const file = join(dir, `${archetype}.ndjson.gz`);
    execFileSync(process.execPath, [CTL, 'synth', '--archetype', archetype, '--intervals', values.intervals, '--interval', values.interval, '--output', file], { stdio: 'ignore' });
    hosts.push([archetype, file]);
  }
  for (const input of values.input ?? []) hosts.push([basename(input), input]);
  const config = defaultConfig();
  console.log(`visibility per profile: share of the host's CPU and memory in individual series, mean over the snapshots; "min" is the smaller of the two`);
  console.log(`synthetic hosts: ${values.intervals} snapshots ${values.interval} s apart\n`);
  console.log(`${'host'.padEnd(24)}${'profile'.padEnd(14)}${'cpu'.padStart(7)}${'memory'.padStart(8)}${'min'.padStart(7)}`);
  for (const [name, file] of hosts) {
    const summaries = await simulate(config, [...LADDER], file);
    for (const s of summaries) {
      const min = Math.min(s.visibility_cpu_mean, s.visibility_memory_mean);
      console.log(`${name.padEnd(24)}${s.profile.padEnd(14)}${pct(s.visibility_cpu_mean)}${pct(s.visibility_memory_mean).padStart(8)}${pct(min)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
