// KPI storage, aggregated at ingest: one row per agent per minute and one per (label group,
// profile) per minute for the fleet, so fleet views read thousands of fleet rows, never the
// per-agent ones.
//
// Why a row holds its values as three JSON objects (sums, mins, counts keyed by value name)
// rather than one column per KPI: the names are open (each shadow profile's cost, the extras
// gates read, whatever a newer agent adds) and a schema change per new KPI would couple every
// replica's version to the agents'. The row stays wide (one per agent-minute, not one per value),
// and merging stays atomic in SQL: the upserts combine rows with hub_json_add / hub_json_min
// (SQL functions on PostgreSQL, JavaScript functions registered on SQLite, json.ts), so
// replicas ingesting into the same fleet row at once never lose an update. Counts are per value
// because a value may be missing from some samples (no critical process on a host, say); the
// mean of a value is sums[k] / counts[k].
//
// A batch is first combined in memory per (agent, minute) and per (group, profile, minute), then
// written in one INSERT ... ON CONFLICT per table (chunked only past the drivers' parameter
// limits), in one transaction. Measured on the shared 2-core test machine, 10,000 agents' samples
// (11 values each) in one call: 250-450 ms on SQLite, 400-500 ms on PostgreSQL; a day of fleet
// rows (720 of them) reads in ~10 ms; folding an hour of 10,000 agents' minute rows (600,000)
// into hours takes ~8 s on SQLite (in 1 s slices) and ~7 s on PostgreSQL.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Values } from './json.js';
import type { Dialect } from './migrations.js';
import { fromJson, toJson } from './rows.js';
import type { HubDatabase, KpiAgentTable, KpiFleetTable } from './schema.js';
import type { FleetKpiPoint, KpiPoint, KpiSample, RetentionSettings } from './types.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** Rows per statement: under SQLite's 32766 and PostgreSQL's 65535 bound parameters. */
const MAX_PARAMS = 30_000;

interface Agg {
  samples: number;
  sums: Values;
  mins: Values;
  counts: Values;
}

function emptyAgg(): Agg {
  return { samples: 0, sums: {}, mins: {}, counts: {} };
}

function addSample(agg: Agg, values: Record<string, number>): void {
  agg.samples++;
  for (const [k, v] of Object.entries(values)) {
    // JSON has no NaN or Infinity; a value the agent could not compute is left out.
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    agg.sums[k] = (agg.sums[k] ?? 0) + v;
    agg.mins[k] = Math.min(agg.mins[k] ?? v, v);
    agg.counts[k] = (agg.counts[k] ?? 0) + 1;
  }
}

function chunks<T>(rows: readonly T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

function point(row: { time_ms: number; samples: number; sums: unknown; mins: unknown; counts: unknown }): KpiPoint {
  const sums = fromJson<Values>(row.sums);
  const counts = fromJson<Values>(row.counts);
  const values: Values = {};
  for (const [k, s] of Object.entries(sums)) {
    const n = counts[k] ?? 0;
    if (n > 0) values[k] = s / n;
  }
  return { timeMs: Number(row.time_ms), values, min: fromJson<Values>(row.mins), samples: Number(row.samples) };
}

/**
 * Adds samples to the minute rows. FleetKpiPoint.agents counts an agent in the (group, profile)
 * of its first sample of the minute: an agent that changes profile within a minute adds its
 * samples to both rows but is counted once.
 */
export async function ingestKpis(db: Kysely<HubDatabase>, samples: readonly KpiSample[]): Promise<void> {
  if (samples.length === 0) return;
  const agents = new Map<string, Agg & { uid: string; time: number; fleetKey: string }>();
  const fleet = new Map<string, Agg & { group: string; profile: string; time: number; agents: number }>();
  for (const s of samples) {
    const time = Math.floor(s.timeMs / MINUTE_MS) * MINUTE_MS;
    const fleetKey = `${s.group}\u0000${s.profile}\u0000${time}`;
    const agentKey = `${s.instanceUid}\u0000${time}`;
    let a = agents.get(agentKey);
    if (!a) agents.set(agentKey, (a = { ...emptyAgg(), uid: s.instanceUid, time, fleetKey }));
    addSample(a, s.values);
    let f = fleet.get(fleetKey);
    if (!f) fleet.set(fleetKey, (f = { ...emptyAgg(), group: s.group, profile: s.profile, time, agents: 0 }));
    addSample(f, s.values);
  }
  await db.transaction().execute(async (trx) => {
    // Rows in key order: two replicas upserting overlapping rows lock them in the same order,
    // so they wait for each other instead of deadlocking.
    const byKey = <T>(m: Map<string, T>): T[] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    const agentRows: KpiAgentTable[] = byKey(agents).map((a) => ({
      uid: a.uid,
      span_ms: MINUTE_MS,
      time_ms: a.time,
      samples: a.samples,
      sums: toJson(a.sums),
      mins: toJson(a.mins),
      counts: toJson(a.counts),
    }));
    for (const part of chunks(agentRows, 7)) {
      const written = await trx
        .insertInto('kpi_agent')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['uid', 'span_ms', 'time_ms']).doUpdateSet({
            samples: sql`kpi_agent.samples + excluded.samples`,
            sums: sql`hub_json_add(kpi_agent.sums, excluded.sums)`,
            mins: sql`hub_json_min(kpi_agent.mins, excluded.mins)`,
            counts: sql`hub_json_add(kpi_agent.counts, excluded.counts)`,
          }),
        )
        .returning(['uid', 'time_ms', 'samples'])
        .execute();
      // A row whose total is this batch's alone is the agent's first of the minute.
      for (const r of written) {
        const a = agents.get(`${r.uid}\u0000${Number(r.time_ms)}`);
        if (a && Number(r.samples) === a.samples) fleet.get(a.fleetKey)!.agents++;
      }
    }
    const fleetRows: KpiFleetTable[] = byKey(fleet).map((f) => ({
      grp: f.group,
      profile: f.profile,
      span_ms: MINUTE_MS,
      time_ms: f.time,
      samples: f.samples,
      agents: f.agents,
      sums: toJson(f.sums),
      mins: toJson(f.mins),
      counts: toJson(f.counts),
    }));
    for (const part of chunks(fleetRows, 9)) {
      await trx
        .insertInto('kpi_fleet')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['grp', 'profile', 'span_ms', 'time_ms']).doUpdateSet({
            samples: sql`kpi_fleet.samples + excluded.samples`,
            agents: sql`kpi_fleet.agents + excluded.agents`,
            sums: sql`hub_json_add(kpi_fleet.sums, excluded.sums)`,
            mins: sql`hub_json_min(kpi_fleet.mins, excluded.mins)`,
            counts: sql`hub_json_add(kpi_fleet.counts, excluded.counts)`,
          }),
        )
        .execute();
    }
  });
}

/** One agent's points with fromMs <= time < toMs, oldest first (hourly rows beyond retention). */
export async function agentKpis(db: Kysely<HubDatabase>, uid: string, fromMs: number, toMs: number): Promise<KpiPoint[]> {
  const rows = await db
    .selectFrom('kpi_agent')
    .selectAll()
    .where('uid', '=', uid)
    .where('time_ms', '>=', fromMs)
    .where('time_ms', '<', toMs)
    .orderBy('time_ms')
    .orderBy('span_ms')
    .execute();
  return rows.map(point);
}

/** Fleet points with fromMs <= time < toMs, oldest first, then by group and profile. */
export async function fleetKpis(db: Kysely<HubDatabase>, fromMs: number, toMs: number): Promise<FleetKpiPoint[]> {
  const rows = await db
    .selectFrom('kpi_fleet')
    .selectAll()
    .where('time_ms', '>=', fromMs)
    .where('time_ms', '<', toMs)
    .orderBy('time_ms')
    .orderBy('span_ms')
    .orderBy('grp')
    .orderBy('profile')
    .execute();
  return rows.map((r) => ({ ...point(r), group: r.grp, profile: r.profile, agents: Number(r.agents) }));
}

/**
 * Agents folded per transaction on SQLite: bounds how long a fold holds its one connection
 * (~1 s). PostgreSQL folds a whole hour at once: it has a pool, and one set-wise pass over an
 * hour is faster than ten over its slices (7 s against 19 s for 10,000 agents).
 */
const SQLITE_FOLD_AGENTS = 1000;

interface Fold {
  table: 'kpi_agent' | 'kpi_fleet';
  keys: string[];
  from: number;
  to: number;
  /** Only agents in (after, upTo] (kpi_agent); null: no bound. */
  after: string | null;
  upTo: string | null;
}

/**
 * The hourly rows of one hour of a table's minute rows. SQLite merges the JSON with its
 * registered aggregates (JavaScript, in-process). On PostgreSQL an aggregate calling a SQL
 * function per row costs ~70 us a row, so there the JSON objects are expanded to (key, value)
 * rows and grouped set-wise: ~7 s for an hour of 10,000 agents (600,000 rows) on the test machine.
 */
function hourRows(dialect: Dialect, f: Fold): RawBuilder<unknown> {
  const HOUR = sql.lit(HOUR_MS);
  const MINUTE = sql.lit(MINUTE_MS);
  const keys = sql.raw(f.keys.join(', '));
  const rKeys = sql.raw(f.keys.map((k) => `r.${k}`).join(', '));
  const fleet = f.table === 'kpi_fleet';
  const where = sql`r.span_ms = ${MINUTE} AND r.time_ms >= ${f.from} AND r.time_ms < ${f.to}
    ${f.after !== null ? sql`AND r.uid > ${f.after}` : sql``} ${f.upTo !== null ? sql`AND r.uid <= ${f.upTo}` : sql``}`;
  if (dialect === 'sqlite') {
    return sql`SELECT ${rKeys}, r.time_ms - (r.time_ms % ${HOUR}) AS hour, sum(r.samples) AS samples${fleet ? sql`, max(r.agents)` : sql``},
        hub_json_sum(r.sums), hub_json_least(r.mins), hub_json_sum(r.counts)
      FROM ${sql.table(f.table)} AS r WHERE ${where}
      GROUP BY ${rKeys}, r.time_ms - (r.time_ms % ${HOUR})`;
  }
  // Each row's (key, value) pairs, computed below an optimisation fence (OFFSET 0) so that the
  // grouping carries numbers, not whole JSON documents; a row's samples count at its first key
  // only (or at its one null key when it has none), so they add up once per row.
  return sql`SELECT ${keys}, hour, sum(samples)${fleet ? sql`, max(agents)` : sql``},
      coalesce(jsonb_object_agg(k, s) FILTER (WHERE k IS NOT NULL), '{}'::jsonb),
      coalesce(jsonb_object_agg(k, m) FILTER (WHERE k IS NOT NULL), '{}'::jsonb),
      coalesce(jsonb_object_agg(k, n) FILTER (WHERE k IS NOT NULL), '{}'::jsonb)
    FROM (SELECT ${keys}, hour, k, coalesce(sum(samples), 0) AS samples${fleet ? sql`, max(agents) AS agents` : sql``},
            sum(s) AS s, min(m) AS m, sum(n) AS n
          FROM (SELECT ${rKeys}, r.time_ms - (r.time_ms % ${HOUR}) AS hour, e.key AS k${fleet ? sql`, r.agents` : sql``},
                  CASE WHEN e.ord IS NULL OR e.ord = 1 THEN r.samples END AS samples,
                  e.value::float8 AS s, (r.mins ->> e.key)::float8 AS m, (r.counts ->> e.key)::float8 AS n
                FROM ${sql.table(f.table)} AS r LEFT JOIN LATERAL jsonb_each_text(r.sums) WITH ORDINALITY AS e(key, value, ord) ON true
                WHERE ${where} OFFSET 0) AS pairs
          GROUP BY ${keys}, hour, k) AS per_key
    GROUP BY ${keys}, hour`;
}

/** Folds one slice into hourly rows and deletes its minute rows, in one transaction. */
async function fold(db: Kysely<HubDatabase>, dialect: Dialect, f: Fold): Promise<void> {
  const t = f.table;
  const fleet = t === 'kpi_fleet';
  const keys = sql.raw(f.keys.join(', '));
  const greatest = sql.raw(dialect === 'postgres' ? 'GREATEST' : 'max');
  await db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') {
      // Its cost estimate would have PostgreSQL JIT-compile the fold: seconds, for nothing.
      await sql`SET LOCAL jit = off`.execute(trx);
      await sql`SET LOCAL work_mem = '64MB'`.execute(trx);
    }
    // "WHERE true": SQLite's parser needs a WHERE in an upsert's SELECT before ON CONFLICT.
    await sql`INSERT INTO ${sql.table(t)} (${keys}, time_ms, samples${sql.raw(fleet ? ', agents' : '')}, sums, mins, counts, span_ms)
      SELECT *, ${sql.lit(HOUR_MS)} FROM (${hourRows(dialect, f)}) AS folded WHERE true
      ON CONFLICT (${keys}, span_ms, time_ms) DO UPDATE SET
        samples = ${sql.raw(t)}.samples + excluded.samples,
        ${fleet ? sql`agents = ${greatest}(kpi_fleet.agents, excluded.agents),` : sql``}
        sums = hub_json_add(${sql.raw(t)}.sums, excluded.sums),
        mins = hub_json_min(${sql.raw(t)}.mins, excluded.mins),
        counts = hub_json_add(${sql.raw(t)}.counts, excluded.counts)`.execute(trx);
    let del = trx.deleteFrom(t).where('span_ms', '=', MINUTE_MS).where('time_ms', '>=', f.from).where('time_ms', '<', f.to);
    if (f.after !== null) del = del.where(sql.ref('uid'), '>', f.after);
    if (f.upTo !== null) del = del.where(sql.ref('uid'), '<=', f.upTo);
    await del.execute();
  });
}

/**
 * Folds whole hours of minute rows older than retention.minuteMs into hourly rows (sums, counts
 * and minimums combined, so means are unchanged; a fleet hour's `agents` is the most in any of
 * its minutes), then drops hourly rows older than retention.hourMs (counted from now, not from
 * the end of the minute retention). Oldest hour first, an hour (on SQLite, SQLITE_FOLD_AGENTS
 * agents of it) per transaction: catching up after a long stop never builds one huge
 * transaction, SQLite's connection is never held long, and an interrupted run resumes.
 */
export async function downsample(db: Kysely<HubDatabase>, dialect: Dialect, nowMs: number, retention: RetentionSettings): Promise<void> {
  const cutoff = Math.floor((nowMs - retention.minuteMs) / HOUR_MS) * HOUR_MS;
  for (;;) {
    const oldest = await db
      .selectFrom('kpi_agent')
      .select((eb) => eb.fn.min('time_ms').as('t'))
      .where('span_ms', '=', MINUTE_MS)
      .where('time_ms', '<', cutoff)
      .unionAll(db.selectFrom('kpi_fleet').select((eb) => eb.fn.min('time_ms').as('t')).where('span_ms', '=', MINUTE_MS).where('time_ms', '<', cutoff))
      .execute();
    const times = oldest.map((r) => r.t).filter((t) => t !== null && t !== undefined).map(Number);
    if (times.length === 0) break;
    const from = Math.floor(Math.min(...times) / HOUR_MS) * HOUR_MS;
    const to = from + HOUR_MS;
    await fold(db, dialect, { table: 'kpi_fleet', keys: ['grp', 'profile'], from, to, after: null, upTo: null });
    let after: string | null = null;
    for (;;) {
      if (dialect === 'postgres') {
        await fold(db, dialect, { table: 'kpi_agent', keys: ['uid'], from, to, after: null, upTo: null });
        break;
      }
      let next = db
        .selectFrom('kpi_agent')
        .select('uid')
        .distinct()
        .where('span_ms', '=', MINUTE_MS)
        .where('time_ms', '>=', from)
        .where('time_ms', '<', to);
      if (after !== null) next = next.where('uid', '>', after);
      const bound = await next.orderBy('uid').offset(SQLITE_FOLD_AGENTS - 1).limit(1).executeTakeFirst();
      const upTo = bound?.uid ?? null;
      await fold(db, dialect, { table: 'kpi_agent', keys: ['uid'], from, to, after, upTo });
      if (upTo === null) break;
      after = upTo;
    }
  }
  const hourCutoff = nowMs - retention.hourMs;
  for (const t of ['kpi_agent', 'kpi_fleet'] as const) {
    await db.deleteFrom(t).where('span_ms', '=', HOUR_MS).where('time_ms', '<', hourCutoff).execute();
  }
}
