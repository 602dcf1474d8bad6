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
// limits), in one transaction.
import { sql, type Kysely } from 'kysely';
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
    const agentRows: KpiAgentTable[] = [...agents.values()].map((a) => ({
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
    const fleetRows: KpiFleetTable[] = [...fleet.values()].map((f) => ({
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
 * Folds whole hours of minute rows older than retention.minuteMs into hourly rows (sums, counts
 * and minimums combined, so means are unchanged; a fleet hour's `agents` is the most in any of
 * its minutes), then drops hourly rows older than retention.hourMs (counted from now, not from
 * the end of the minute retention).
 */
export async function downsample(db: Kysely<HubDatabase>, dialect: Dialect, nowMs: number, retention: RetentionSettings): Promise<void> {
  const cutoff = Math.floor((nowMs - retention.minuteMs) / HOUR_MS) * HOUR_MS;
  const hourCutoff = nowMs - retention.hourMs;
  const greatest = sql.raw(dialect === 'postgres' ? 'GREATEST' : 'max');
  // Literals, not parameters: PostgreSQL would type a bare parameter in a select list as text.
  const HOUR = sql.lit(HOUR_MS);
  const MINUTE = sql.lit(MINUTE_MS);
  await db.transaction().execute(async (trx) => {
    await sql`INSERT INTO kpi_agent (uid, span_ms, time_ms, samples, sums, mins, counts)
      SELECT uid, ${HOUR}, time_ms - (time_ms % ${HOUR}), sum(samples),
        hub_json_sum(sums), hub_json_least(mins), hub_json_sum(counts)
      FROM kpi_agent WHERE span_ms = ${MINUTE} AND time_ms < ${cutoff}
      GROUP BY uid, time_ms - (time_ms % ${HOUR})
      ON CONFLICT (uid, span_ms, time_ms) DO UPDATE SET
        samples = kpi_agent.samples + excluded.samples,
        sums = hub_json_add(kpi_agent.sums, excluded.sums),
        mins = hub_json_min(kpi_agent.mins, excluded.mins),
        counts = hub_json_add(kpi_agent.counts, excluded.counts)`.execute(trx);
    await trx.deleteFrom('kpi_agent').where('span_ms', '=', MINUTE_MS).where('time_ms', '<', cutoff).execute();
    await sql`INSERT INTO kpi_fleet (grp, profile, span_ms, time_ms, samples, agents, sums, mins, counts)
      SELECT grp, profile, ${HOUR}, time_ms - (time_ms % ${HOUR}), sum(samples), max(agents),
        hub_json_sum(sums), hub_json_least(mins), hub_json_sum(counts)
      FROM kpi_fleet WHERE span_ms = ${MINUTE} AND time_ms < ${cutoff}
      GROUP BY grp, profile, time_ms - (time_ms % ${HOUR})
      ON CONFLICT (grp, profile, span_ms, time_ms) DO UPDATE SET
        samples = kpi_fleet.samples + excluded.samples,
        agents = ${greatest}(kpi_fleet.agents, excluded.agents),
        sums = hub_json_add(kpi_fleet.sums, excluded.sums),
        mins = hub_json_min(kpi_fleet.mins, excluded.mins),
        counts = hub_json_add(kpi_fleet.counts, excluded.counts)`.execute(trx);
    await trx.deleteFrom('kpi_fleet').where('span_ms', '=', MINUTE_MS).where('time_ms', '<', cutoff).execute();
    await trx.deleteFrom('kpi_agent').where('span_ms', '=', HOUR_MS).where('time_ms', '<', hourCutoff).execute();
    await trx.deleteFrom('kpi_fleet').where('span_ms', '=', HOUR_MS).where('time_ms', '<', hourCutoff).execute();
  });
}
