/**
 * The state store's schema, as the ordered list of migrations that build it. Migration i takes a
 * database from `user_version` i to i + 1. A released migration is never edited, only followed by
 * another: a database on disk was built by the text that was current then. That is why the SQL is
 * spelled out here rather than generated from the KPI field list in `kpi-history.ts`.
 */

const V1 = `
-- The profile set by operators or the control loop (one row), and the manual pin (zero or one row).
CREATE TABLE profile_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  active TEXT
);
CREATE TABLE pin (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  profile TEXT NOT NULL,
  until REAL,
  since REAL NOT NULL,
  who TEXT NOT NULL,
  reason TEXT NOT NULL
);
-- Every profile change, kept for good: a few hundred rows a day at the very most.
CREATE TABLE journal (
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  from_profile TEXT,
  to_profile TEXT NOT NULL,
  reason TEXT NOT NULL,
  who TEXT NOT NULL
);
CREATE INDEX journal_time ON journal (time);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- The pipeline's state between intervals (one row). The blob is the last column so that reading
-- the small columns does not walk its overflow pages.
CREATE TABLE pipeline_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  timestamp REAL NOT NULL,
  source TEXT NOT NULL,
  blob BLOB NOT NULL
);

-- One row per interval, kept 7 days.
CREATE TABLE kpi_raw (
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  profile TEXT NOT NULL,
  processes REAL NOT NULL,
  series_baseline REAL NOT NULL,
  series_exported REAL NOT NULL,
  series_unique_24h REAL NOT NULL,
  datapoints_baseline REAL NOT NULL,
  datapoints_exported REAL NOT NULL,
  bytes_baseline REAL NOT NULL,
  bytes_exported REAL NOT NULL,
  billed_bytes_baseline REAL NOT NULL,
  billed_bytes_exported REAL NOT NULL,
  reduction_datapoints REAL NOT NULL,
  reduction_bytes REAL NOT NULL,
  coverage_critical REAL,
  visibility REAL NOT NULL,
  visibility_cpu REAL,
  visibility_memory REAL NOT NULL,
  totals_error REAL NOT NULL,
  cost_per_hour_baseline REAL NOT NULL,
  cost_per_hour_optimized REAL NOT NULL,
  agent_cpu_percent REAL,
  agent_rss_bytes REAL,
  kept REAL NOT NULL,
  rolled_up REAL NOT NULL,
  anomalies REAL NOT NULL
);
CREATE INDEX kpi_raw_time ON kpi_raw (time);

-- One row per UTC hour (hour = its start, unix seconds), kept 90 days. Sums, not averages, so that
-- each interval adds to its hour in place; a nullable field also counts its non-null samples (_n).
CREATE TABLE kpi_hourly (
  hour INTEGER PRIMARY KEY,
  samples INTEGER NOT NULL,
  processes_sum REAL NOT NULL,
  series_baseline_sum REAL NOT NULL,
  series_exported_sum REAL NOT NULL,
  series_unique_24h_sum REAL NOT NULL,
  datapoints_baseline_sum REAL NOT NULL,
  datapoints_exported_sum REAL NOT NULL,
  bytes_baseline_sum REAL NOT NULL,
  bytes_exported_sum REAL NOT NULL,
  billed_bytes_baseline_sum REAL NOT NULL,
  billed_bytes_exported_sum REAL NOT NULL,
  reduction_datapoints_sum REAL NOT NULL,
  reduction_bytes_sum REAL NOT NULL,
  coverage_critical_sum REAL NOT NULL,
  coverage_critical_n INTEGER NOT NULL,
  visibility_sum REAL NOT NULL,
  visibility_cpu_sum REAL NOT NULL,
  visibility_cpu_n INTEGER NOT NULL,
  visibility_memory_sum REAL NOT NULL,
  totals_error_sum REAL NOT NULL,
  cost_per_hour_baseline_sum REAL NOT NULL,
  cost_per_hour_optimized_sum REAL NOT NULL,
  agent_cpu_percent_sum REAL NOT NULL,
  agent_cpu_percent_n INTEGER NOT NULL,
  agent_rss_bytes_sum REAL NOT NULL,
  agent_rss_bytes_n INTEGER NOT NULL,
  kept_sum REAL NOT NULL,
  rolled_up_sum REAL NOT NULL,
  anomalies_sum REAL NOT NULL,
  series_exported_max REAL NOT NULL,
  agent_rss_bytes_max REAL,
  agent_cpu_percent_max REAL,
  coverage_critical_min REAL,
  visibility_min REAL NOT NULL
);
CREATE TABLE kpi_hourly_profile (
  hour INTEGER NOT NULL REFERENCES kpi_hourly (hour) ON DELETE CASCADE,
  profile TEXT NOT NULL,
  samples INTEGER NOT NULL,
  PRIMARY KEY (hour, profile)
) WITHOUT ROWID;

-- Alerts waiting for delivery. AUTOINCREMENT: an id handed out is never reused, even once pruned.
CREATE TABLE alert_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt REAL NOT NULL,
  last_attempt REAL,
  delivered REAL,
  last_error TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt) WHERE delivered IS NULL;
CREATE INDEX alert_outbox_created ON alert_outbox (created);

-- Every evaluation of the control loop, kept 7 days like the raw KPIs it read.
CREATE TABLE decisions (
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  inputs TEXT NOT NULL,
  outcome TEXT NOT NULL,
  from_profile TEXT,
  to_profile TEXT,
  reason TEXT NOT NULL
);
CREATE INDEX decisions_time ON decisions (time);
`;

/**
 * Shadow profiles: what each other profile would have exported, interval by interval, run on the same
 * snapshots as the profile in force (whose own figures are kpi_raw's). Only what `profile compare` and
 * the control loop read: no hourly rollup, kept 7 days like the raw KPIs.
 */
const V2 = `
CREATE TABLE shadow_kpis (
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  profile TEXT NOT NULL,
  series_exported REAL NOT NULL,
  datapoints_exported REAL NOT NULL,
  billed_bytes_exported REAL NOT NULL,
  bytes_exported REAL NOT NULL,
  cost_per_hour_optimized REAL NOT NULL,
  cost_per_hour_baseline REAL NOT NULL,
  coverage_critical REAL,
  visibility REAL NOT NULL,
  reduction_datapoints REAL NOT NULL,
  reduction_bytes REAL NOT NULL,
  kept REAL NOT NULL,
  rolled_up REAL NOT NULL,
  anomalies REAL NOT NULL
);
CREATE INDEX shadow_kpis_time ON shadow_kpis (time);
`;

/**
 * The control loop became off by default (control_loop.enabled: false). A store whose loop was
 * running when it was last checked (it has the loop's memory, no stop, and its latest check was not
 * "the loop is stopped") was on before: by default or by `control start`, which left no mark then.
 * It is recorded as started so that an upgrade leaves a running loop running; `control stop` stops it.
 */
const V3 = `
INSERT INTO settings (key, value)
SELECT 'control.started', json_object('time', CAST(strftime('%s', 'now') AS REAL), 'who', 'upgrade',
  'reason', 'the loop ran before it was off by default')
WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'control.memory')
  AND NOT EXISTS (SELECT 1 FROM settings WHERE key IN ('control.stopped', 'control.started'))
  AND COALESCE((SELECT reason FROM decisions ORDER BY id DESC LIMIT 1), '') <> 'the loop is stopped';
`;

/**
 * The fleet (OpAMP): this agent's instance UID (a UUIDv7 created at the first start with a hub, kept
 * for good: the hub knows the agent by it), and the last good fleet layer the hub sent (its config map
 * as JSON and its hash), applied at start before the hub answers, so that a hub outage changes nothing.
 */
const V4 = `
CREATE TABLE fleet (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  instance_uid TEXT NOT NULL,
  created REAL NOT NULL
);
CREATE TABLE fleet_layer (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hash BLOB NOT NULL,
  config_map TEXT NOT NULL,
  received REAL NOT NULL
);
`;

export const MIGRATIONS: readonly string[] = [V1, V2, V3, V4];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
