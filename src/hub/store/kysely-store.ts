// Everything of HubStore that is the same on SQLite and PostgreSQL: the queries, written once
// with Kysely. The backends (sqlite.ts, postgres.ts) add how to connect, the migration lock,
// leadership and notifications.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Updateable } from 'kysely';
import type { Logger } from 'pino';
import { uidToString } from '../../fleet/codec.js';
import { uuidv7 } from '../../fleet/uuid.js';
import * as kpis from './kpis.js';
import { runMigrations, type Dialect } from './migrations.js';
import { agentFromRow, agentPatchColumns, configFromRow, journalFromRow, newAgentRow, pinFromRow, requestFromRow, toJson } from './rows.js';
import type { AgentsTable, HubDatabase } from './schema.js';
import type {
  AgentPatch,
  AgentRecord,
  AgentRequest,
  AgentSeen,
  FleetConfig,
  FleetConfigInput,
  FleetKpiPoint,
  FleetPinRecord,
  HubStore,
  JournalEntry,
  KpiPoint,
  KpiSample,
  OwnerKind,
  RequestType,
  RetentionSettings,
  TokenKind,
} from './types.js';

/** Heartbeats per UPDATE (4 parameters each). */
const SEEN_CHUNK = 2000;

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export abstract class KyselyHubStore implements HubStore {
  abstract readonly dialect: Dialect;

  protected constructor(
    protected readonly db: Kysely<HubDatabase>,
    protected readonly log: Logger | undefined,
  ) {}

  migrate(): Promise<void> {
    return runMigrations(this.db, this.dialect, this.log).then(() => undefined);
  }

  abstract close(): Promise<void>;
  abstract tryLeadership(): Promise<boolean>;
  abstract notify(payload: string): Promise<void>;
  abstract onNotify(handler: (payload: string) => void): void;

  // ---- agents

  async getAgent(uid: string): Promise<AgentRecord | null> {
    const row = await this.db.selectFrom('agents').selectAll().where('uid', '=', uid).executeTakeFirst();
    return row ? agentFromRow(row) : null;
  }

  async listAgents(): Promise<AgentRecord[]> {
    return (await this.db.selectFrom('agents').selectAll().orderBy('uid').execute()).map(agentFromRow);
  }

  async upsertAgent(uid: string, patch: AgentPatch, nowMs: number): Promise<AgentRecord> {
    const set = agentPatchColumns(patch) as Updateable<AgentsTable>;
    // One statement, so two replicas creating the same agent at once both succeed.
    const row = await this.db
      .insertInto('agents')
      .values(newAgentRow(uid, patch, nowMs))
      .onConflict((oc) => oc.column('uid').doUpdateSet(Object.keys(set).length > 0 ? set : { uid: sql`excluded.uid` }))
      .returningAll()
      .executeTakeFirstOrThrow();
    return agentFromRow(row);
  }

  /** Unknown agents are ignored; a null interval leaves the observed one as it was. */
  async recordSeen(batch: readonly AgentSeen[]): Promise<void> {
    const latest = new Map<string, AgentSeen>();
    for (const s of batch) {
      const prev = latest.get(s.instanceUid);
      if (!prev || s.lastSeenMs >= prev.lastSeenMs) latest.set(s.instanceUid, s);
    }
    const all = [...latest.values()];
    for (let i = 0; i < all.length; i += SEEN_CHUNK) {
      // VALUES columns are column1..4 on both databases; the casts type them for PostgreSQL.
      const rows = all
        .slice(i, i + SEEN_CHUNK)
        .map(
          (s) =>
            sql`(CAST(${s.instanceUid} AS text), CAST(${s.lastSeenMs} AS bigint), CAST(${s.lastSequenceNum} AS bigint), CAST(${s.observedIntervalSeconds} AS double precision))`,
        );
      await sql`UPDATE agents SET last_seen_ms = v.column2, last_sequence_num = v.column3,
          observed_interval_seconds = coalesce(v.column4, agents.observed_interval_seconds),
          status = 'online', offline_since_ms = NULL
        FROM (VALUES ${sql.join(rows)}) AS v WHERE agents.uid = v.column1`.execute(this.db);
    }
  }

  /** offlineSinceMs is set to nowMs, the moment the hub noticed. */
  async markOffline(nowMs: number, defaultIntervalSeconds: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('agents')
      .set({ status: 'offline', offline_since_ms: nowMs })
      .where('status', '=', 'online')
      .where(
        sql<number>`last_seen_ms + 3000 * coalesce(observed_interval_seconds, CAST(${defaultIntervalSeconds} AS double precision))`,
        '<',
        nowMs,
      )
      .returning('uid')
      .execute();
    return rows.map((r) => r.uid).sort();
  }

  /** Removes the agent, its requests and its own KPI rows (the fleet's rows keep its past). */
  async forgetAgent(uid: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom('agents').where('uid', '=', uid).executeTakeFirst();
      await trx.deleteFrom('requests').where('uid', '=', uid).execute();
      await trx.deleteFrom('kpi_agent').where('uid', '=', uid).execute();
      return Number(gone.numDeletedRows) > 0;
    });
  }

  // ---- fleet configurations

  async putConfig(input: FleetConfigInput, nowMs: number): Promise<FleetConfig> {
    const hash = createHash('sha256').update(input.body).digest('hex');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const top = await trx
            .selectFrom('configs')
            .select((eb) => eb.fn.max('version').as('v'))
            .where('name', '=', input.name)
            .executeTakeFirst();
          const version = Number(top?.v ?? 0) + 1;
          const row = {
            name: input.name,
            version,
            selector: input.selector,
            priority: input.priority,
            opaque: input.opaque ? 1 : 0,
            body: input.body,
            content_type: input.contentType,
            created_by: input.by,
            hash,
            created_ms: nowMs,
            removed_ms: null,
            removed_by: null,
          };
          await trx.insertInto('configs').values(row).execute();
          return configFromRow(row);
        });
      } catch (err) {
        // Another replica stored the same name's next version first: take the one after.
        if (attempt < 5 && isUniqueViolation(err)) continue;
        throw err;
      }
    }
  }

  private currentConfigs() {
    return this.db
      .selectFrom('configs as c')
      .selectAll()
      .where('c.removed_ms', 'is', null)
      .where('c.version', '=', (eb) => eb.selectFrom('configs as c2').select((e) => e.fn.max('c2.version').as('v')).whereRef('c2.name', '=', 'c.name'));
  }

  /** In applying order: ascending priority, then name. */
  async listConfigs(): Promise<FleetConfig[]> {
    return (await this.currentConfigs().orderBy('c.priority').orderBy('c.name').execute()).map(configFromRow);
  }

  /** Without a version, the current one (null once removed); with one, that version even if removed. */
  async getConfig(name: string, version?: number): Promise<FleetConfig | null> {
    const row =
      version === undefined
        ? await this.currentConfigs().where('c.name', '=', name).executeTakeFirst()
        : await this.db.selectFrom('configs').selectAll().where('name', '=', name).where('version', '=', version).executeTakeFirst();
    return row ? configFromRow(row) : null;
  }

  async removeConfig(name: string, by: string, nowMs: number): Promise<boolean> {
    const r = await this.db
      .updateTable('configs')
      .set({ removed_ms: nowMs, removed_by: by })
      .where('name', '=', name)
      .where('removed_ms', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ---- pins

  async listPins(): Promise<FleetPinRecord[]> {
    return (await this.db.selectFrom('pins').selectAll().orderBy('id').execute()).map(pinFromRow);
  }

  async addPin(pin: Omit<FleetPinRecord, 'id'>): Promise<FleetPinRecord> {
    const row = await this.db
      .insertInto('pins')
      .values({
        selector: pin.selector,
        owner_kind: pin.ownerKind,
        owner_id: pin.ownerId,
        profile: pin.profile,
        until_s: pin.until,
        created_by: pin.by,
        reason: pin.reason,
        created_ms: pin.createdMs,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return pinFromRow(row);
  }

  async removePins(selector: string, ownerKind: OwnerKind, ownerId: string | null): Promise<number> {
    let q = this.db.deleteFrom('pins').where('selector', '=', selector).where('owner_kind', '=', ownerKind);
    q = ownerId === null ? q.where('owner_id', 'is', null) : q.where('owner_id', '=', ownerId);
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }

  // ---- requests to agents

  async enqueueRequest(uid: string, type: RequestType, body: Record<string, unknown>, nowMs: number): Promise<AgentRequest> {
    const row = {
      id: uidToString(uuidv7(nowMs)),
      uid,
      type,
      body: toJson(body),
      state: 'pending',
      created_ms: nowMs,
      sent_ms: null,
      answered_ms: null,
      response: null,
    };
    await this.db.insertInto('requests').values(row).execute();
    return requestFromRow(row);
  }

  /** Oldest first. One statement, so two replicas never hand the same request out twice. */
  async takeRequests(uid: string, nowMs: number): Promise<AgentRequest[]> {
    const rows = await this.db
      .updateTable('requests')
      .set({ state: 'sent', sent_ms: nowMs })
      .where('uid', '=', uid)
      .where('state', '=', 'pending')
      .returningAll()
      .execute();
    return rows.map(requestFromRow).sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
  }

  async answerRequest(id: string, response: unknown, nowMs: number): Promise<void> {
    await this.db
      .updateTable('requests')
      .set({ state: 'answered', answered_ms: nowMs, response: toJson(response ?? null) })
      .where('id', '=', id)
      .execute();
  }

  async getRequest(id: string): Promise<AgentRequest | null> {
    const row = await this.db.selectFrom('requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? requestFromRow(row) : null;
  }

  async pendingRequestCount(): Promise<number> {
    const r = await this.db
      .selectFrom('requests')
      .select((eb) => eb.fn.count('uid').distinct().as('n'))
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ---- KPIs (kpis.ts)

  ingestKpis(samples: readonly KpiSample[]): Promise<void> {
    return kpis.ingestKpis(this.db, samples);
  }

  agentKpis(uid: string, fromMs: number, toMs: number): Promise<KpiPoint[]> {
    return kpis.agentKpis(this.db, uid, fromMs, toMs);
  }

  fleetKpis(fromMs: number, toMs: number): Promise<FleetKpiPoint[]> {
    return kpis.fleetKpis(this.db, fromMs, toMs);
  }

  downsample(nowMs: number, retention: RetentionSettings): Promise<void> {
    return kpis.downsample(this.db, this.dialect, nowMs, retention);
  }

  // ---- journal

  async appendJournal(entry: Omit<JournalEntry, 'id'>): Promise<JournalEntry> {
    const row = await this.db
      .insertInto('journal')
      .values({ time_ms: entry.timeMs, actor: entry.actor, action: entry.action, target: entry.target, details: toJson(entry.details) })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { ...entry, id: Number(row.id) };
  }

  /**
   * Entries at or after sinceMs, oldest first (newest last, as a log reads); with a limit, the
   * newest `limit` of them, still oldest first (like `tail -n`).
   */
  async listJournal(q: { sinceMs?: number; limit?: number }): Promise<JournalEntry[]> {
    let query = this.db.selectFrom('journal').selectAll().orderBy('time_ms', 'desc').orderBy('id', 'desc');
    if (q.sinceMs !== undefined) query = query.where('time_ms', '>=', q.sinceMs);
    if (q.limit !== undefined) query = query.limit(Math.max(0, Math.floor(q.limit)));
    return (await query.execute()).map(journalFromRow).reverse();
  }

  // ---- tokens

  async saveTokens(hashes: Record<TokenKind, string>): Promise<boolean> {
    const now = Date.now();
    const rows = await this.db
      .insertInto('tokens')
      .values((Object.entries(hashes) as [TokenKind, string][]).map(([kind, hash]) => ({ kind, hash, created_ms: now })))
      .onConflict((oc) => oc.column('kind').doNothing())
      .returning('kind')
      .execute();
    return rows.length > 0;
  }

  async tokenHashes(): Promise<Partial<Record<TokenKind, string>>> {
    const out: Partial<Record<TokenKind, string>> = {};
    for (const r of await this.db.selectFrom('tokens').selectAll().execute()) out[r.kind as TokenKind] = r.hash;
    return out;
  }
}
