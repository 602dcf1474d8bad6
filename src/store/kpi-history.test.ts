import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StateStore } from './index.js';
import { kpi } from './testdata/kpi.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-kpis-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const open = (): StateStore => StateStore.open(join(root, `s${++n}`));

const DAY = 86_400;
const near = (actual: number | null | undefined, expected: number, what: string): void =>
  assert.ok(actual != null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} is not ${expected}`);
/** 2024-03-01T00:00:00Z: an hour boundary in UTC. */
const T0 = 1_709_251_200;

describe('KPI history: raw rows', () => {
  it('gives the latest interval, and the history oldest first, by range and by count', () => {
    const store = open();
    assert.equal(store.latestKpis(), null);
    assert.deepEqual(store.kpiHistory({ resolution: 'raw' }), []);
    for (let i = 0; i < 6; i++) store.recordKpis(kpi(T0 + 10 * i, { series_exported: 600 + i }));
    assert.deepEqual(store.latestKpis(), kpi(T0 + 50, { series_exported: 605 }));
    const all = store.kpiHistory({ resolution: 'raw' });
    assert.deepEqual(all.map((r) => r.series_exported), [600, 601, 602, 603, 604, 605]);
    assert.deepEqual(all[0], {
      ...kpi(T0, { series_exported: 600 }),
      resolution: 'raw',
      samples: 1,
      profiles: { balanced: 1 },
      series_exported_max: 600,
      agent_rss_bytes_max: 61_000_000,
      agent_cpu_percent_max: 0.42,
      coverage_critical_min: 1,
      visibility_min: 0.81,
    });
    assert.deepEqual(store.kpiHistory({ resolution: 'raw', since: T0 + 10, until: T0 + 30 }).map((r) => r.time), [T0 + 10, T0 + 20, T0 + 30]);
    assert.deepEqual(store.kpiHistory({ resolution: 'raw', limit: 2 }).map((r) => r.time), [T0 + 40, T0 + 50], 'the newest two, oldest first');
    store.close();
  });

  it('keeps nulls as nulls', () => {
    const store = open();
    store.recordKpis(kpi(T0, { coverage_critical: null, visibility_cpu: null, agent_cpu_percent: null, agent_rss_bytes: null }));
    const latest = store.latestKpis()!;
    assert.deepEqual([latest.coverage_critical, latest.visibility_cpu, latest.agent_cpu_percent, latest.agent_rss_bytes], [null, null, null, null]);
    store.close();
  });
});

describe('KPI history: hourly rollups', () => {
  it('averages each UTC hour, counting only the non-null samples of a nullable field', () => {
    const store = open();
    // Hour 1: four intervals; the first has no CPU deltas yet and no self-measurement.
    store.recordKpis(kpi(T0 + 0, { series_exported: 600, visibility: 0.7, visibility_cpu: null, agent_cpu_percent: null, agent_rss_bytes: null }));
    store.recordKpis(kpi(T0 + 900, { series_exported: 700, visibility: 0.8, visibility_cpu: 0.6, agent_cpu_percent: 0.3, agent_rss_bytes: 50e6 }));
    store.recordKpis(kpi(T0 + 1800, { series_exported: 800, visibility: 0.9, visibility_cpu: 0.9, agent_cpu_percent: 0.9, agent_rss_bytes: 70e6, profile: 'aggressive' }));
    store.recordKpis(kpi(T0 + 3599, { series_exported: 500, visibility: 0.6, visibility_cpu: 0.9, agent_cpu_percent: 0.3, agent_rss_bytes: 60e6, coverage_critical: null }));
    // Hour 2: one interval, with every nullable field null.
    store.recordKpis(kpi(T0 + 3600, { coverage_critical: null, visibility_cpu: null, agent_cpu_percent: null, agent_rss_bytes: null }));

    const [h1, h2, ...rest] = store.kpiHistory({ resolution: 'hour' });
    assert.equal(rest.length, 0);
    assert.equal(h1!.time, T0);
    assert.equal(h1!.resolution, 'hour');
    assert.equal(h1!.samples, 4);
    assert.equal(h1!.series_exported, 650);
    assert.equal(h1!.series_exported_max, 800);
    near(h1!.visibility, 0.75, 'visibility');
    assert.equal(h1!.visibility_min, 0.6);
    near(h1!.visibility_cpu, 0.8, 'the average of 0.6, 0.9, 0.9 (the null is not a zero)');
    near(h1!.agent_cpu_percent, 0.5, 'agent_cpu_percent');
    assert.equal(h1!.agent_cpu_percent_max, 0.9);
    assert.equal(h1!.agent_rss_bytes, 60e6);
    assert.equal(h1!.agent_rss_bytes_max, 70e6);
    assert.equal(h1!.coverage_critical, 1);
    assert.equal(h1!.coverage_critical_min, 1);
    assert.equal(h1!.processes, 1000, 'a constant averages to itself');
    assert.deepEqual(h1!.profiles, { aggressive: 1, balanced: 3 });
    assert.equal(h1!.profile, 'balanced', 'the profile in force for most of the hour');

    assert.equal(h2!.time, T0 + 3600);
    assert.equal(h2!.samples, 1);
    assert.deepEqual([h2!.coverage_critical, h2!.visibility_cpu, h2!.agent_cpu_percent, h2!.agent_rss_bytes], [null, null, null, null]);
    assert.deepEqual([h2!.coverage_critical_min, h2!.agent_cpu_percent_max, h2!.agent_rss_bytes_max], [null, null, null]);
    store.close();
  });

  it('selects hours by their start and keeps the newest `limit` of them', () => {
    const store = open();
    for (let h = 0; h < 5; h++) store.recordKpis(kpi(T0 + h * 3600 + 60));
    assert.deepEqual(store.kpiHistory({ resolution: 'hour', since: T0 + 3600, until: T0 + 3 * 3600 }).map((r) => r.time), [T0 + 3600, T0 + 7200, T0 + 10_800]);
    assert.deepEqual(store.kpiHistory({ resolution: 'hour', limit: 2 }).map((r) => r.time), [T0 + 3 * 3600, T0 + 4 * 3600]);
    store.close();
  });
});

describe('KPI history: retention by data time', () => {
  it('drops raw rows 7 days older than the newest data by itself, and keeps their hours', () => {
    const store = open();
    store.recordKpis(kpi(T0));
    store.recordKpis(kpi(T0 + 10));
    store.recordKpis(kpi(T0 + 7 * DAY)); // exactly 7 days: T0 is still inside the window
    assert.equal(store.kpiHistory({ resolution: 'raw' }).length, 3);
    store.recordKpis(kpi(T0 + 7 * DAY + 3600)); // a new hour of data: pruning runs
    assert.deepEqual(store.kpiHistory({ resolution: 'raw' }).map((r) => r.time), [T0 + 7 * DAY, T0 + 7 * DAY + 3600]);
    assert.equal(store.kpiHistory({ resolution: 'hour' })[0]?.time, T0, 'the hourly rollup outlives the raw rows');
    assert.equal(store.kpiHistory({ resolution: 'hour' })[0]?.samples, 2);
    store.close();
  });

  it('keeps a replayed recording from months ago: the clock does not matter, the data does', () => {
    const store = open();
    const old = T0 - 120 * DAY;
    for (let i = 0; i < 3 * 360; i++) store.recordKpis(kpi(old + i * 10));
    assert.equal(store.kpiHistory({ resolution: 'raw' }).length, 1080);
    assert.equal(store.kpiHistory({ resolution: 'hour' }).length, 3);
    store.close();
  });

  it('drops hours 90 days older than the newest data, with their profile counts', () => {
    const store = open();
    store.recordKpis(kpi(T0, { profile: 'conservative' }));
    store.recordKpis(kpi(T0 + 89 * DAY));
    assert.equal(store.kpiHistory({ resolution: 'hour' }).length, 2);
    store.recordKpis(kpi(T0 + 90 * DAY + 3600));
    const hours = store.kpiHistory({ resolution: 'hour' });
    assert.deepEqual(hours.map((h) => h.time), [T0 + 89 * DAY, T0 + 90 * DAY + 3600]);
    assert.ok(hours.every((h) => !('conservative' in h.profiles)));
    store.close();
  });

  it('prune(now) drops by an explicit clock and says how much', () => {
    const store = open();
    for (let d = 0; d < 7; d++) store.recordKpis(kpi(T0 + d * DAY));
    store.recordDecision({ time: T0, inputs: {}, outcome: 'hold', from: null, to: null, reason: 'r' });
    store.enqueueAlert('e', {}, T0);
    assert.deepEqual(store.prune(T0 + 100 * DAY), { raw: 7, hourly: 7, shadow: 0, decisions: 1, alerts: 1 });
    assert.equal(store.latestKpis(), null);
    store.close();
  });
});
