/**
 * Shadow profiles' KPIs: one row per profile and interval for the profiles run beside the one in
 * force on the same snapshots (src/agent/shadows.ts), kept 7 days like the raw KPIs. `compare` puts
 * them together with the intervals each profile was in force for real (kpi_raw), per profile.
 */
import type Database from 'better-sqlite3';
import { RAW_RETENTION_SECONDS } from './kpi-history.js';
import type { CompareQuery, ProfileComparison, ShadowKpi, ShadowKpiRecord } from './types.js';

type ShadowField = Exclude<ShadowKpi, 'profile'>;

/** A Record so that the compiler insists on a new ShadowKpi being listed here (and then it needs a migration). */
const COLUMNS: Record<ShadowField, true> = {
  series_exported: true,
  datapoints_exported: true,
  billed_bytes_exported: true,
  bytes_exported: true,
  cost_per_hour_optimized: true,
  cost_per_hour_baseline: true,
  coverage_critical: true,
  visibility: true,
  reduction_datapoints: true,
  reduction_bytes: true,
  kept: true,
  rolled_up: true,
  anomalies: true,
};
const FIELDS = Object.keys(COLUMNS) as ShadowField[];

type Value = number | string | null;
type ComparisonRow = Omit<ProfileComparison, 'intervals'> & { real: number; shadow: number };

const INSERT = `INSERT INTO shadow_kpis (time, profile, ${FIELDS.join(', ')}) VALUES (${['?', '?', ...FIELDS.map(() => '?')].join(', ')})`;
const SELECT_AT = `SELECT time, profile, ${FIELDS.join(', ')} FROM shadow_kpis WHERE time = ? ORDER BY id`;
const SELECT_RANGE = `SELECT time, profile, ${FIELDS.join(', ')} FROM shadow_kpis WHERE time > ? AND time <= ? ORDER BY time, id`;

// The same columns from both tables: a profile's intervals in force and as a shadow count alike.
const COMPARED = 'time, profile, series_exported, datapoints_exported, cost_per_hour_optimized, cost_per_hour_baseline, coverage_critical, visibility, reduction_datapoints, reduction_bytes';
const COMPARE = `WITH intervals AS (
    SELECT 1 AS real, ${COMPARED} FROM kpi_raw WHERE time >= @since AND time <= @until
    UNION ALL
    SELECT 0 AS real, ${COMPARED} FROM shadow_kpis WHERE time >= @since AND time <= @until
  )
  SELECT profile, sum(real) AS real, count(*) - sum(real) AS shadow, min(time) AS first, max(time) AS last,
    avg(cost_per_hour_optimized) AS cost_per_hour_mean, max(cost_per_hour_optimized) AS cost_per_hour_max,
    avg(cost_per_hour_baseline) AS cost_per_hour_baseline_mean,
    avg(series_exported) AS series_exported_mean, max(series_exported) AS series_exported_max,
    avg(datapoints_exported) AS datapoints_exported_mean,
    avg(reduction_datapoints) AS reduction_datapoints_mean, avg(reduction_bytes) AS reduction_bytes_mean,
    min(coverage_critical) AS coverage_critical_min,
    avg(visibility) AS visibility_mean, min(visibility) AS visibility_min
  FROM intervals GROUP BY profile ORDER BY profile`;

export class ShadowKpis {
  private readonly insert: Database.Statement<Value[]>;
  private readonly at: Database.Statement<[number], ShadowKpiRecord>;
  private readonly range: Database.Statement<[number, number], ShadowKpiRecord>;
  private readonly compareStmt: Database.Statement<[{ since: number; until: number }], ComparisonRow>;
  private readonly pruneStmt: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare<Value[]>(INSERT);
    this.at = db.prepare(SELECT_AT);
    this.range = db.prepare(SELECT_RANGE);
    this.compareStmt = db.prepare(COMPARE);
    this.pruneStmt = db.prepare('DELETE FROM shadow_kpis WHERE time < ?');
  }

  /** Adds one profile's interval. Call inside a transaction. */
  record(row: ShadowKpiRecord): void {
    const values: Value[] = [row.time, row.profile];
    for (const f of FIELDS) values.push(row[f]);
    this.insert.run(...values);
  }

  /** The shadow rows of the interval at `time` (data time, as recorded), in the order they were recorded. */
  rowsAt(time: number): ShadowKpiRecord[] {
    return this.at.all(time);
  }

  /** The rows with `after` < time <= `until`, oldest first. */
  rows(after: number, until: number): ShadowKpiRecord[] {
    return this.range.all(after, until);
  }

  /** Per profile, its intervals in force and as a shadow within the window, by name. */
  compare(query: CompareQuery): ProfileComparison[] {
    return this.compareStmt.all({ since: query.since ?? -Infinity, until: query.until ?? Infinity }).map(({ profile, real, shadow, ...rest }) => ({
      profile,
      intervals: { real, shadow },
      ...rest,
    }));
  }

  /** Drops rows older than 7 days before `now`. */
  prune(now: number): number {
    return this.pruneStmt.run(now - RAW_RETENTION_SECONDS).changes;
  }
}
