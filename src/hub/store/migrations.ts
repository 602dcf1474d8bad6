// Numbered migrations of the hub database, the same list on SQLite and PostgreSQL. Each runs in
// its own transaction and is recorded in `hub_migrations`, so a crash between two leaves the
// database at a known number. On PostgreSQL the whole run holds a session advisory lock on one
// connection: replicas started together queue behind the first, then find nothing left to do.
// Never edit a released migration; append the next number.
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { HubDatabase } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** pg_advisory_lock key for migrations ("nrdotmig" in ASCII, as an int8). */
export const MIGRATION_LOCK = 0x6e72646f746d6967n;

export interface Migration {
  id: number;
  name: string;
  up(db: Kysely<HubDatabase>, dialect: Dialect): Promise<void>;
}

function jsonType(dialect: Dialect) {
  return dialect === 'postgres' ? sql`jsonb` : sql`text`;
}

async function initial(db: Kysely<HubDatabase>, dialect: Dialect): Promise<void> {
  const json = jsonType(dialect);
  const s = db.schema;
  await s
    .createTable('agents')
    .addColumn('uid', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('first_seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_sequence_num', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('offline_since_ms', 'bigint')
    .addColumn('observed_interval_seconds', 'double precision')
    .addColumn('transport', 'text')
    .addColumn('replica', 'text')
    .addColumn('description', json)
    .addColumn('labels', json, (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('host_name', 'text')
    .addColumn('capabilities', 'bigint', (c) => c.notNull())
    .addColumn('custom_capabilities', json, (c) => c.notNull())
    .addColumn('health', json)
    .addColumn('effective_config', json)
    .addColumn('remote_config_status', json)
    .addColumn('sent_config_hash', 'text')
    .addColumn('offered_settings_hash', 'text')
    .addColumn('profile', 'text')
    .addColumn('profile_reason', 'text')
    .addColumn('kpis', json)
    .execute();
  await s.createIndex('agents_status').on('agents').columns(['status', 'last_seen_ms']).execute();

  await s
    .createTable('configs')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('selector', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('opaque', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('removed_ms', 'bigint')
    .addColumn('removed_by', 'text')
    .addPrimaryKeyConstraint('configs_pk', ['name', 'version'])
    .execute();

  const id = (t: string) =>
    dialect === 'postgres'
      ? s.createTable(t).addColumn('id', 'bigserial', (c) => c.primaryKey())
      : s.createTable(t).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await id('pins')
    .addColumn('selector', 'text', (c) => c.notNull())
    .addColumn('owner_kind', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text')
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('until_s', 'double precision')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .execute();
  await id('journal')
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('details', json, (c) => c.notNull())
    .execute();
  await s.createIndex('journal_time').on('journal').columns(['time_ms']).execute();

  await s
    .createTable('requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('body', json, (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('sent_ms', 'bigint')
    .addColumn('answered_ms', 'bigint')
    .addColumn('response', json)
    .execute();
  await s.createIndex('requests_pending').on('requests').columns(['state', 'uid']).execute();

  await s
    .createTable('tokens')
    .addColumn('kind', 'text', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('kpi_agent')
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('span_ms', 'integer', (c) => c.notNull())
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('sums', json, (c) => c.notNull())
    .addColumn('mins', json, (c) => c.notNull())
    .addColumn('counts', json, (c) => c.notNull())
    .addPrimaryKeyConstraint('kpi_agent_pk', ['uid', 'span_ms', 'time_ms'])
    .execute();
  await s.createIndex('kpi_agent_age').on('kpi_agent').columns(['span_ms', 'time_ms']).execute();
  await s
    .createTable('kpi_fleet')
    .addColumn('grp', 'text', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('span_ms', 'integer', (c) => c.notNull())
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('samples', 'integer', (c) => c.notNull())
    .addColumn('agents', 'integer', (c) => c.notNull())
    .addColumn('sums', json, (c) => c.notNull())
    .addColumn('mins', json, (c) => c.notNull())
    .addColumn('counts', json, (c) => c.notNull())
    .addPrimaryKeyConstraint('kpi_fleet_pk', ['grp', 'profile', 'span_ms', 'time_ms'])
    .execute();
  await s.createIndex('kpi_fleet_time').on('kpi_fleet').columns(['time_ms']).execute();

  if (dialect === 'postgres') {
    // The JSON merges of KPI upserts. On SQLite the same names are JavaScript functions
    // registered on the connection (json.ts), so the upserts are written once.
    await sql`CREATE FUNCTION hub_json_add(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
      SELECT coalesce(jsonb_object_agg(k, coalesce((a->>k)::float8, 0) + coalesce((b->>k)::float8, 0)), '{}'::jsonb)
      FROM (SELECT jsonb_object_keys(coalesce(a, '{}'::jsonb)) AS k UNION SELECT jsonb_object_keys(coalesce(b, '{}'::jsonb))) AS keys
    $$`.execute(db);
    await sql`CREATE FUNCTION hub_json_min(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
      SELECT coalesce(jsonb_object_agg(k, least((a->>k)::float8, (b->>k)::float8)), '{}'::jsonb)
      FROM (SELECT jsonb_object_keys(coalesce(a, '{}'::jsonb)) AS k UNION SELECT jsonb_object_keys(coalesce(b, '{}'::jsonb))) AS keys
    $$`.execute(db);
  }
}

export const MIGRATIONS: readonly Migration[] = [{ id: 1, name: 'initial', up: initial }];

async function applyPending(db: Kysely<HubDatabase>, dialect: Dialect, log: Logger | undefined): Promise<number[]> {
  await db.schema
    .createTable('hub_migrations')
    .ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_ms', 'bigint', (c) => c.notNull())
    .execute();
  const done = new Set((await db.selectFrom('hub_migrations').select('id').execute()).map((r) => Number(r.id)));
  const newest = Math.max(0, ...MIGRATIONS.map((m) => m.id));
  const ahead = [...done].filter((id) => id > newest);
  if (ahead.length > 0) {
    throw new Error(`the hub database has migration ${Math.max(...ahead)}, newer than this nrdot-plus-hub knows (${newest}): run a newer hub`);
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    await db.transaction().execute(async (trx) => {
      await m.up(trx, dialect);
      await trx.insertInto('hub_migrations').values({ id: m.id, name: m.name, applied_ms: Date.now() }).execute();
    });
    log?.info({ migration: m.id, migration_name: m.name }, 'hub database migrated');
    applied.push(m.id);
  }
  return applied;
}

/** Brings the database up to the newest migration; returns the ids it applied. */
export async function runMigrations(db: Kysely<HubDatabase>, dialect: Dialect, log?: Logger): Promise<number[]> {
  if (dialect === 'sqlite') return applyPending(db, dialect, log);
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK.toString()}::bigint)`.execute(conn);
    try {
      return await applyPending(conn, dialect, log);
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK.toString()}::bigint)`.execute(conn);
    }
  });
}
