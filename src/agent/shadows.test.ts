import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig } from '../config/index.js';
import { emptyState, Pipeline, type Kpis, type Metric } from '../pipeline/index.js';
import { generate } from '../snapshot/synth.js';
import type { Snapshot } from '../snapshot/types.js';
import { kpiRecord, StateStore } from '../store/index.js';
import { Optimizer } from './optimizer.js';
import { compareProfiles, ShadowProfiles } from './shadows.js';

const config = defaultConfig();
// A PHP host of about 200 processes, one snapshot every 10 s; anomalies start after 8 snapshots.
const snapshots = generate({ archetype: 'web-php', intervals: 30, intervalSeconds: 10 }).snapshots;

/** What a pipeline of `profile` alone reports for the snapshots from `from` on (the first has no previous state). */
function alone(profile: string, from: number, to = snapshots.length, extraSelf?: readonly Metric[]): Kpis[] {
  const pipeline = new Pipeline(config, profile);
  let state = emptyState();
  const out: Kpis[] = [];
  for (const s of snapshots.slice(from, to)) {
    const r = pipeline.run(s, state, { decisions: true, cadenceSeconds: 10, extraSelf });
    state = r.state;
    out.push(r.kpis);
  }
  return out.slice(1);
}

const byProfile = (runs: Kpis[][], profile: string): Kpis[] => runs.flat().filter((k) => k.profile === profile);

/** The agent's way: the optimizer runs the profile in force on each snapshot, then the shadows. */
function agent(profiles: string[], inForce: (i: number) => string, count = snapshots.length, extraSelf?: Metric[]) {
  const optimizer = new Optimizer(config, inForce(0), { file: null, otlp: null });
  const shadows = new ShadowProfiles(config, profiles, optimizer);
  const real: Kpis[] = [];
  const runs = snapshots.slice(0, count).map((s, i) => {
    optimizer.setProfile(inForce(i));
    real.push(optimizer.process(s, { cadenceSeconds: 10, extraSelf }));
    return shadows.run(s, inForce(i), { cadenceSeconds: 10, extraSelf: optimizer.lastExtraSelf }).kpis;
  });
  return { runs, real, shadows, optimizer };
}

describe('shadow profiles', () => {
  it('report for each other profile what a pipeline of it alone reports on the same snapshots, and leave the real one alone', () => {
    const { runs, real } = agent(config.advanced.shadow_profiles, () => 'balanced');
    assert.deepEqual(runs[0], [], 'the first interval has no rates: nothing reported');
    assert.deepEqual(runs[1]!.map((k) => k.profile), ['conservative', 'aggressive', 'minimal', 'emergency'], 'the configuration\'s order, without the profile in force');
    for (const profile of ['conservative', 'aggressive', 'minimal', 'emergency']) {
      assert.deepEqual(byProfile(runs, profile), alone(profile, 0), profile);
    }
    assert.equal(byProfile(runs, 'balanced').length, 0);
    assert.deepEqual(real.slice(1), alone('balanced', 0), 'the profile in force exports what it would without shadows');
    assert.ok(runs.flat().some((k) => k.anomalies > 0 && k.profile === 'conservative'), 'anomalies kept for their retention, per profile');
    // What users compare: the cheaper the profile, the less it exports.
    const last = runs.at(-1)!;
    const cost = (p: string): number => last.find((k) => k.profile === p)!.cost_per_hour_optimized;
    assert.ok(cost('emergency') < cost('minimal') && cost('minimal') < cost('aggressive') && cost('aggressive') < cost('conservative'));
  });

  it('leave out the profile in force, and report one that leaves it from its first interval as a shadow', () => {
    const inForce = (i: number): string => (i < 5 ? 'balanced' : i < 10 ? 'aggressive' : i < 15 ? 'balanced' : 'minimal');
    const { runs } = agent(['balanced', 'aggressive'], inForce, 20);
    assert.deepEqual(runs.map((r) => r.map((k) => k.profile).join(',')), [
      '', 'aggressive', 'aggressive', 'aggressive', 'aggressive', // balanced in force; the first interval has no rates
      'balanced', 'balanced', 'balanced', 'balanced', 'balanced', // aggressive in force
      'aggressive', 'aggressive', 'aggressive', 'aggressive', 'aggressive',
      'balanced,aggressive', 'balanced,aggressive', 'balanced,aggressive', 'balanced,aggressive', 'balanced,aggressive', // neither in force
    ]);
    // Until it first leaves the shadows, aggressive is exactly a pipeline of its own.
    assert.deepEqual(byProfile(runs, 'aggressive').slice(0, 4), alone('aggressive', 0, 5));
    for (const k of runs.flat()) assert.notEqual(k.visibility_cpu, null, `${k.profile} at ${k.timestamp} has rates`);
  });

  it('count the self-metrics the real interval carried, as every profile would send them', () => {
    const extraSelf: Metric[] = [
      { name: 'nrdot.agent.memory.rss', unit: 'By', description: 'Resident memory of the agent.', kind: 'gauge', monotonic: false, integer: true, points: [{ attributes: null, value: 9e7 }] },
      { name: 'nrdot.export.retries', unit: '{request}', description: 'Retries.', kind: 'sum', monotonic: true, integer: true, points: [{ attributes: null, value: 0, cumulative: 0, start: 0 }] },
    ];
    const { runs } = agent(['minimal'], () => 'balanced', 4, extraSelf);
    assert.deepEqual(runs.flat(), alone('minimal', 0, 4, extraSelf));
    assert.equal(runs[3]![0]!.datapoints_exported, alone('minimal', 0, 4)[2]!.datapoints_exported + 2);
  });

  it('keep what the profiles still listed remember across a reload, forget the others, and run nothing when off', () => {
    const optimizer = new Optimizer(config, 'balanced', { file: null, otlp: null });
    const shadows = new ShadowProfiles(config, ['conservative', 'minimal'], optimizer);
    assert.deepEqual(shadows.stats(), { profiles: ['conservative', 'minimal'], last_cpu_ms: null, mean_cpu_ms: null });
    const step = (i: number) => {
      optimizer.process(snapshots[i]!, { cadenceSeconds: 10 });
      return shadows.run(snapshots[i]!, 'balanced', { cadenceSeconds: 10 }).kpis;
    };
    for (let i = 0; i < 3; i++) step(i);
    const stats = shadows.stats();
    assert.ok(stats.last_cpu_ms !== null && stats.last_cpu_ms >= 0 && stats.mean_cpu_ms !== null && stats.mean_cpu_ms >= 0, JSON.stringify(stats));
    optimizer.setConfig(config, 'balanced');
    shadows.setConfig(config, ['minimal', 'emergency']);
    assert.deepEqual(shadows.profiles, ['minimal', 'emergency']);
    const after = step(3);
    assert.deepEqual(after.map((k) => k.profile), ['minimal', 'emergency'], 'emergency is new, with the rates of the real pipeline');
    assert.deepEqual(after[0], alone('minimal', 0, 4)[2], 'minimal carries on as if nothing happened');
    shadows.setConfig(config, []);
    optimizer.process(snapshots[4]!);
    assert.deepEqual(shadows.run(snapshots[4]!, 'balanced'), { kpis: [], cpuMs: 0 });
    assert.throws(() => shadows.setConfig(config, ['nightly']), /shadow profile "nightly": no such profile/);
    shadows.setConfig(config, ['minimal']);
    assert.throws(() => shadows.run(snapshots[5]!, 'balanced'), /right after the pipeline, on the snapshot it ran/);
  });

  it('are compared with the profile in force over a window, in the configuration\'s order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nrdot-shadows-agent-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const store = StateStore.open(dir);
    const optimizer = new Optimizer(config, 'aggressive', { file: null, otlp: null });
    const shadows = new ShadowProfiles(config, config.advanced.shadow_profiles, optimizer);
    for (const s of snapshots) {
      store.recordKpis(kpiRecord(optimizer.process(s, { cadenceSeconds: 10 })));
      store.recordShadowKpis(shadows.run(s, 'aggressive', { cadenceSeconds: 10 }).kpis.map(kpiRecord));
    }
    store.recordShadowKpis([{ ...kpiRecord(optimizer.lastKpis!), profile: 'retired' }]); // a profile the configuration no longer has
    const t = (i: number): number => (snapshots[i] as Snapshot).timestamp;
    const c = compareProfiles(store, config, { since: t(0), until: t(29) }, 'aggressive', shadows.profiles);
    assert.deepEqual(c.profiles.map((p) => [p.profile, p.intervals.real, p.intervals.shadow]), [
      ['conservative', 0, 29],
      ['balanced', 0, 29],
      ['aggressive', 30, 0],
      ['minimal', 0, 29],
      ['emergency', 0, 29],
      ['retired', 0, 1],
    ]);
    assert.deepEqual([c.since, c.until, c.in_force, c.cost_model], [t(0), t(29), 'aggressive', { currency: 'USD', billing_model: 'bytes' }]);
    store.close();
  });
});
