import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, StateStore, type ShadowKpiRecord } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { kpi } from './testdata/kpi.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-shadows-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const open = (): StateStore => StateStore.open(join(root, `s${++n}`));

const DAY = 86_400;
/** 2024-03-01T00:00:00Z. */
const T0 = 1_709_251_200;
const near = (actual: number | null | undefined, expected: number, what: string): void =>
  assert.ok(actual != null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} is not ${expected}`);

/** A shadow profile's interval: the fields the table keeps, from the realistic KPIs. */
function shadow(time: number, profile: string, over: Partial<ShadowKpiRecord> = {}): ShadowKpiRecord {
  const k = kpi(time, { profile, ...over });
  return {
    time, profile, series_exported: k.series_exported, datapoints_exported: k.datapoints_exported, billed_bytes_exported: k.billed_bytes_exported,
    bytes_exported: k.bytes_exported, cost_per_hour_optimized: k.cost_per_hour_optimized, cost_per_hour_baseline: k.cost_per_hour_baseline,
    coverage_critical: k.coverage_critical, visibility: k.visibility, reduction_datapoints: k.reduction_datapoints, reduction_bytes: k.reduction_bytes,
    kept: k.kept, rolled_up: k.rolled_up, anomalies: k.anomalies,
  };
}

describe('shadow profiles\' KPIs', () => {
  it('keeps each interval\'s rows, nulls as nulls, and takes whole KpiRecords too', () => {
    const store = open();
    store.recordShadowKpis([shadow(T0, 'conservative', { cost_per_hour_optimized: 0.1 }), shadow(T0, 'minimal', { coverage_critical: null })]);
    store.recordShadowKpis([kpi(T0 + 10, { profile: 'aggressive' })]);
    store.recordShadowKpis([]);
    const first = store.shadowKpisAt(T0);
    assert.deepEqual(first, [shadow(T0, 'conservative', { cost_per_hour_optimized: 0.1 }), shadow(T0, 'minimal', { coverage_critical: null })]);
    assert.deepEqual(store.shadowKpisAt(T0 + 10), [shadow(T0 + 10, 'aggressive')], 'only the fields kept');
    assert.deepEqual(store.shadowKpisAt(T0 + 5), []);
    assert.deepEqual(store.shadowKpis({ after: T0, until: T0 + 10 }), [shadow(T0 + 10, 'aggressive')], 'after is exclusive, until inclusive');
    assert.deepEqual(store.shadowKpis().map((r) => [r.time, r.profile]), [[T0, 'conservative'], [T0, 'minimal'], [T0 + 10, 'aggressive']], 'oldest first');
    store.close();
  });

  it('compares each profile over a window, its intervals in force and as a shadow together', () => {
    const store = open();
    // Six intervals: balanced in force for three, then aggressive; the other profiles as shadows.
    // A profile's first interval as a shadow is not recorded (no rates yet): aggressive has no
    // shadow row at T0, balanced none at T0 + 30 (it left the state store's force then).
    const cost: Record<string, number> = { conservative: 0.2, balanced: 0.1, aggressive: 0.05, minimal: 0.02 };
    for (let i = 0; i < 6; i++) {
      const t = T0 + 10 * i;
      const inForce = i < 3 ? 'balanced' : 'aggressive';
      const base = 1 + i / 10; // the host's load moves: the baseline with it
      store.recordKpis(kpi(t, { profile: inForce, cost_per_hour_optimized: cost[inForce]! * base, cost_per_hour_baseline: base, series_exported: 600 + i, visibility: 0.8 }));
      const rows = Object.keys(cost)
        .filter((p) => p !== inForce && !(p === 'aggressive' && i === 0) && !(p === 'balanced' && i === 3))
        .map((p) => shadow(t, p, { cost_per_hour_optimized: cost[p]! * base, cost_per_hour_baseline: base, series_exported: 100 * i, visibility: 0.5 + i / 10, coverage_critical: p === 'minimal' ? null : 1 }));
      store.recordShadowKpis(rows);
    }
    const all = store.compareProfiles();
    assert.deepEqual(all.map((c) => [c.profile, c.intervals.real, c.intervals.shadow]), [
      ['aggressive', 3, 2],
      ['balanced', 3, 2],
      ['conservative', 0, 6],
      ['minimal', 0, 6],
    ]);
    const balanced = all.find((c) => c.profile === 'balanced')!;
    // Intervals 0, 1, 2 (in force) and 4, 5 (shadow).
    const bases = [1, 1.1, 1.2, 1.4, 1.5];
    near(balanced.cost_per_hour_baseline_mean, bases.reduce((a, b) => a + b) / 5, 'baseline mean');
    near(balanced.cost_per_hour_mean, (0.1 * bases.reduce((a, b) => a + b)) / 5, 'cost mean');
    near(balanced.cost_per_hour_max, 0.15, 'cost max');
    assert.equal(balanced.series_exported_max, 602, 'in force: 600 + i; as a shadow 400 and 500');
    near(balanced.series_exported_mean, (600 + 601 + 602 + 400 + 500) / 5, 'series mean');
    assert.equal(balanced.visibility_min, 0.8);
    near(balanced.visibility_mean, (0.8 * 3 + 0.9 + 1.0) / 5, 'visibility mean');
    assert.equal(balanced.coverage_critical_min, 1);
    assert.deepEqual([balanced.first, balanced.last], [T0, T0 + 50]);
    assert.equal(all.find((c) => c.profile === 'minimal')!.coverage_critical_min, null, 'no critical process: no coverage');
    near(balanced.reduction_datapoints_mean, 0.9086, 'reduction of datapoints');
    near(balanced.reduction_bytes_mean, 0.9378, 'reduction of billed bytes');
    assert.equal(balanced.datapoints_exported_mean, 640);

    const window = store.compareProfiles({ since: T0 + 20, until: T0 + 30 });
    assert.deepEqual(window.map((c) => [c.profile, c.intervals.real, c.intervals.shadow]), [
      ['aggressive', 1, 1],
      ['balanced', 1, 0],
      ['conservative', 0, 2],
      ['minimal', 0, 2],
    ], 'both ends inclusive');
    assert.deepEqual(store.compareProfiles({ since: T0 + 51 }), [], 'nothing in the window');
    store.close();
  });

  it('drops rows 7 days older than the newest data with the raw KPIs, and prune(now) counts them', () => {
    const store = open();
    store.recordKpis(kpi(T0));
    store.recordShadowKpis([shadow(T0, 'minimal'), shadow(T0, 'emergency')]);
    store.recordKpis(kpi(T0 + 7 * DAY));
    store.recordShadowKpis([shadow(T0 + 7 * DAY, 'minimal')]);
    assert.equal(store.shadowKpisAt(T0).length, 2, 'exactly 7 days: still inside');
    store.recordKpis(kpi(T0 + 7 * DAY + 3600)); // a new hour of data: pruning runs
    assert.deepEqual(store.shadowKpisAt(T0), []);
    assert.equal(store.shadowKpisAt(T0 + 7 * DAY).length, 1);
    assert.equal(store.prune(T0 + 100 * DAY).shadow, 1);
    store.close();
  });

  it('adds its table to a store written by the previous version, keeping what it holds', () => {
    const dir = join(root, 'v1');
    mkdirSync(dir);
    const db = new Database(join(dir, 'state.db'));
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO profile_state (id, active) VALUES (1, 'aggressive')").run();
    db.close();
    const store = StateStore.open(dir);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.equal(store.profileState().active, 'aggressive');
    store.recordShadowKpis([shadow(T0, 'minimal')]);
    assert.equal(store.shadowKpisAt(T0).length, 1);
    store.close();
  });
});
