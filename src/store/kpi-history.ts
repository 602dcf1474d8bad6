/**
 * KPI history: one row per interval for 7 days, and hourly rollups for 90 days, for the control
 * loop, the dashboard's charts, reports and forecasts. The hourly row is kept up to date on every
 * interval (sums and counts added in place), so that reading a quarter of history never scans raw rows.
 */
import type Database from 'better-sqlite3';
import type { KpiHistoryQuery, KpiHistoryRow, KpiRecord } from './types.js';
import type { Kpis } from '../pipeline/index.js';

export const HOUR = 3600;
export const RAW_RETENTION_SECONDS = 7 * 86_400;
export const HOURLY_RETENTION_SECONDS = 90 * 86_400;

export type KpiField = Exclude<keyof KpiRecord, 'time' | 'profile'>;

/**
 * Every numeric KPI, and whether it may be null. A Record so that the compiler insists on a new
 * KpiRecord field being listed here (and then it needs a migration adding its columns).
 */
const NULLABLE: Record<KpiField, boolean> = {
  processes: false,
  series_baseline: false,
  series_exported: false,
  series_unique_24h: false,
  datapoints_baseline: false,
  datapoints_exported: false,
  bytes_baseline: false,
  bytes_exported: false,
  billed_bytes_baseline: false,
  billed_bytes_exported: false,
  reduction_datapoints: false,
  reduction_bytes: false,
  coverage_critical: true,
  visibility: false,
  visibility_cpu: true,
  visibility_memory: false,
  totals_error: false,
  cost_per_hour_baseline: false,
  cost_per_hour_optimized: false,
  agent_cpu_percent: true,
  agent_rss_bytes: true,
  kept: false,
  rolled_up: false,
  anomalies: false,
};
const FIELDS = Object.keys(NULLABLE) as KpiField[];

/** The numeric KPIs the history keeps, in column order. */
export const KPI_FIELDS: readonly KpiField[] = FIELDS;
const NULLABLE_FIELDS = FIELDS.filter((f) => NULLABLE[f]);

/** The hour's extremes beside its averages: the peaks a budget or a memory limit cares about, the troughs of coverage. */
const EXTREMES = [
  { column: 'series_exported_max', field: 'series_exported', fn: 'max' },
  { column: 'agent_rss_bytes_max', field: 'agent_rss_bytes', fn: 'max' },
  { column: 'agent_cpu_percent_max', field: 'agent_cpu_percent', fn: 'max' },
  { column: 'coverage_critical_min', field: 'coverage_critical', fn: 'min' },
  { column: 'visibility_min', field: 'visibility', fn: 'min' },
] as const satisfies ReadonlyArray<{ column: keyof KpiHistoryRow; field: KpiField; fn: 'max' | 'min' }>;

type Value = number | string | null;
type HourlyRow = Omit<KpiHistoryRow, 'profiles' | 'resolution' | 'profile'> & { profiles: string };

const INSERT_RAW = `INSERT INTO kpi_raw (time, profile, ${FIELDS.join(', ')}) VALUES (${['?', '?', ...FIELDS.map(() => '?')].join(', ')})`;

const HOURLY_COLUMNS = [
  'hour',
  'samples',
  ...FIELDS.map((f) => `${f}_sum`),
  ...NULLABLE_FIELDS.map((f) => `${f}_n`),
  ...EXTREMES.map((e) => e.column),
];
// max(a, b) is null when either is: coalesce falls back to whichever side is not.
const UPSERT_HOURLY = `INSERT INTO kpi_hourly (${HOURLY_COLUMNS.join(', ')}) VALUES (${HOURLY_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (hour) DO UPDATE SET samples = samples + 1,
  ${[
    ...FIELDS.map((f) => `${f}_sum = ${f}_sum + excluded.${f}_sum`),
    ...NULLABLE_FIELDS.map((f) => `${f}_n = ${f}_n + excluded.${f}_n`),
    ...EXTREMES.map(({ column: c, fn }) => `${c} = coalesce(${fn}(${c}, excluded.${c}), ${c}, excluded.${c})`),
  ].join(',\n  ')}`;

const UPSERT_HOURLY_PROFILE = `INSERT INTO kpi_hourly_profile (hour, profile, samples) VALUES (?, ?, 1)
  ON CONFLICT (hour, profile) DO UPDATE SET samples = samples + 1`;

// Averages on read; a nullable field's over its non-null samples only (null when there were none).
const SELECT_HOURLY = `SELECT hour AS time, samples,
  ${FIELDS.map((f) => (NULLABLE[f] ? `CASE WHEN ${f}_n > 0 THEN ${f}_sum / ${f}_n END AS ${f}` : `${f}_sum / samples AS ${f}`)).join(', ')},
  ${EXTREMES.map((e) => e.column).join(', ')},
  (SELECT json_group_object(profile, samples) FROM kpi_hourly_profile p WHERE p.hour = h.hour) AS profiles
  FROM kpi_hourly h`;

const RECORD_COLUMNS = `time, profile, ${FIELDS.join(', ')}`;
// The newest `limit` rows of the range (limit -1: all), handed back oldest first.
const SELECT_RAW = `SELECT ${RECORD_COLUMNS} FROM
  (SELECT * FROM kpi_raw WHERE time >= ? AND time <= ? ORDER BY time DESC, id DESC LIMIT ?) ORDER BY time, id`;
const SELECT_HOURS = `SELECT * FROM (${SELECT_HOURLY} WHERE hour >= ? AND hour <= ? ORDER BY hour DESC LIMIT ?) ORDER BY time`;

export class KpiHistory {
  private readonly insertRaw: Database.Statement<Value[]>;
  private readonly upsertHourly: Database.Statement<Value[]>;
  private readonly upsertHourlyProfile: Database.Statement<[number, string]>;
  private readonly rawRange: Database.Statement<[number, number, number], KpiRecord>;
  private readonly hourlyRange: Database.Statement<[number, number, number], HourlyRow>;
  private readonly latest: Database.Statement<[], KpiRecord>;
  private readonly newestTime: Database.Statement<[], { time: number | null }>;
  private readonly pruneRaw: Database.Statement<[number]>;
  private readonly pruneHourly: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.insertRaw = db.prepare<Value[]>(INSERT_RAW);
    this.upsertHourly = db.prepare<Value[]>(UPSERT_HOURLY);
    this.upsertHourlyProfile = db.prepare(UPSERT_HOURLY_PROFILE);
    this.rawRange = db.prepare(SELECT_RAW);
    this.hourlyRange = db.prepare(SELECT_HOURS);
    this.latest = db.prepare(`SELECT ${RECORD_COLUMNS} FROM kpi_raw ORDER BY time DESC, id DESC LIMIT 1`);
    this.newestTime = db.prepare('SELECT max(time) AS time FROM kpi_raw');
    this.pruneRaw = db.prepare('DELETE FROM kpi_raw WHERE time < ?');
    // The hours' profile counts go with them (ON DELETE CASCADE).
    this.pruneHourly = db.prepare('DELETE FROM kpi_hourly WHERE hour < ?');
  }

  /** Adds one interval to the raw rows and to its hour. Call inside a transaction. Returns the raw row's id. */
  record(row: KpiRecord): number {
    const values: Value[] = [row.time, row.profile];
    for (const f of FIELDS) values.push(row[f]);
    const id = Number(this.insertRaw.run(...values).lastInsertRowid);

    const hour = Math.floor(row.time / HOUR) * HOUR;
    const hourly: Value[] = [hour, 1];
    for (const f of FIELDS) hourly.push(row[f] ?? 0);
    for (const f of NULLABLE_FIELDS) hourly.push(row[f] === null ? 0 : 1);
    for (const e of EXTREMES) hourly.push(row[e.field]);
    this.upsertHourly.run(...hourly);
    this.upsertHourlyProfile.run(hour, row.profile);
    return id;
  }

  history(query: KpiHistoryQuery): KpiHistoryRow[] {
    const args: [number, number, number] = [query.since ?? -Infinity, query.until ?? Infinity, query.limit ?? -1];
    if (query.resolution === 'hour') return this.hourlyRange.all(...args).map(hourlyRow);
    return this.rawRange.all(...args).map(rawRow);
  }

  latestRecord(): KpiRecord | null {
    return this.latest.get() ?? null;
  }

  /** The newest data time recorded, or null when there is none. */
  newest(): number | null {
    return this.newestTime.get()?.time ?? null;
  }

  /** Drops raw rows older than 7 days and hours older than 90 days before `now`. */
  prune(now: number): { raw: number; hourly: number } {
    return {
      raw: this.pruneRaw.run(now - RAW_RETENTION_SECONDS).changes,
      hourly: this.pruneHourly.run(now - HOURLY_RETENTION_SECONDS).changes,
    };
  }
}

function rawRow(r: KpiRecord): KpiHistoryRow {
  // Extends the fresh row in place rather than copying it: a week of raw rows is 60 000 of them.
  return Object.assign(r, {
    resolution: 'raw' as const,
    samples: 1,
    profiles: { [r.profile]: 1 },
    series_exported_max: r.series_exported,
    agent_rss_bytes_max: r.agent_rss_bytes,
    agent_cpu_percent_max: r.agent_cpu_percent,
    coverage_critical_min: r.coverage_critical,
    visibility_min: r.visibility,
  });
}

function hourlyRow(row: HourlyRow): KpiHistoryRow {
  const profiles = JSON.parse(row.profiles) as Record<string, number>;
  // The profile in force for most of the hour (ties: the first by name, so that reads are stable).
  let profile = '';
  for (const [name, n] of Object.entries(profiles).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!profile || n > profiles[profile]!) profile = name;
  }
  return { ...row, profile, profiles, resolution: 'hour' };
}

/** The KPIs as the store keeps them. */
export function kpiRecord(k: Kpis): KpiRecord {
  const record = { time: k.timestamp, profile: k.profile } as KpiRecord;
  for (const field of KPI_FIELDS) (record as Record<KpiField, number | null>)[field] = k[field];
  return record;
}
