// The shared backend: PostgreSQL, for any number of hub replicas on one database. The queries
// are kysely-store.ts's; here: the pool, leadership by a session advisory lock held on a
// dedicated connection (lost with it, so a dead replica's lock frees itself and the next
// replica to ask takes over), and LISTEN/NOTIFY on another dedicated connection that reconnects.
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from 'pino';
import { KyselyHubStore } from './kysely-store.js';
import type { HubDatabase } from './schema.js';

/** pg_try_advisory_lock key for leadership ("nrdotldr" in ASCII, as an int8). */
export const LEADER_LOCK = 0x6e72646f746c6472n;
export const NOTIFY_CHANNEL = 'nrdot_hub';
const RECONNECT_MAX_MS = 5000;

/** BIGINT (times in ms, counts) and NUMERIC (sums) as numbers: every value we store fits a double. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export class PostgresHubStore extends KyselyHubStore {
  readonly dialect = 'postgres' as const;
  private readonly url: string;
  private readonly handlers: ((payload: string) => void)[] = [];
  private leaderClient: pg.Client | null = null;
  private leader = false;
  private listener: pg.Client | null = null;
  private listening = false;
  private reconnectMs = 100;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(db: Kysely<HubDatabase>, url: string, log: Logger | undefined) {
    super(db, log);
    this.url = url;
  }

  /** Connects lazily (the first query); does not migrate. */
  static open(url: string, log?: Logger): PostgresHubStore {
    const pool = new pg.Pool({ connectionString: url, max: 10, types, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: 'nrdot-plus-hub' });
    // An idle pooled connection dropped by the server: the pool replaces it on next use.
    pool.on('error', (err) => log?.warn({ err: err.message }, 'hub database connection lost'));
    return new PostgresHubStore(new Kysely<HubDatabase>({ dialect: new PostgresDialect({ pool }) }), url, log);
  }

  /** A dedicated connection, named so that an operator can tell it in pg_stat_activity. */
  private client(role: 'leader' | 'listen'): pg.Client {
    return new pg.Client({ connectionString: this.url, types, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: `nrdot-plus-hub-${role}` });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const clients = [this.leaderClient, this.listener];
    this.leaderClient = this.listener = null;
    this.leader = false;
    await Promise.all(clients.map((c) => c?.end().catch(() => undefined)));
    await this.db.destroy();
  }

  /**
   * Takes or confirms the leadership lock. Once held, each call checks that its connection is
   * still alive: a replica whose connection died stops being leader at its next call, and the
   * server has freed the lock for whoever asks next.
   */
  async tryLeadership(): Promise<boolean> {
    if (this.closed) return false;
    let c = this.leaderClient;
    try {
      if (!c) {
        c = this.client('leader');
        const mine = c;
        mine.on('error', (err) => {
          this.log?.warn({ err: err.message }, 'hub leadership connection lost');
          this.dropLeaderClient(mine);
        });
        await mine.connect();
        this.leaderClient = mine;
      }
      if (this.leader) {
        await c.query('SELECT 1');
        return true;
      }
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LEADER_LOCK.toString()]);
      this.leader = r.rows[0]?.ok === true;
      if (this.leader) this.log?.info('this hub replica is now the leader (runs background jobs)');
      return this.leader;
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'hub leadership check failed');
      if (c) this.dropLeaderClient(c);
      return false;
    }
  }

  private dropLeaderClient(c: pg.Client): void {
    if (this.leaderClient === c) {
      this.leaderClient = null;
      this.leader = false;
    }
    c.end().catch(() => undefined);
  }

  async notify(payload: string): Promise<void> {
    await sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payload})`.execute(this.db);
  }

  /** Handlers get every replica's notifications, this one's included. */
  onNotify(handler: (payload: string) => void): void {
    this.handlers.push(handler);
    if (!this.listener && !this.reconnectTimer) void this.listen();
  }

  /** True once LISTEN is in place (tests wait for it; notifications before it are not seen). */
  get isListening(): boolean {
    return this.listening;
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const c = this.client('listen');
    this.listener = c;
    const lost = (why: string) => {
      if (this.listener !== c) return;
      this.listener = null;
      this.listening = false;
      c.end().catch(() => undefined);
      if (this.closed) return;
      // Wakes sent while disconnected are lost; the handlers' periodic work covers them.
      this.log?.warn({ why, retryMs: this.reconnectMs }, 'hub notification connection lost; reconnecting');
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        void this.listen();
      }, this.reconnectMs);
      this.reconnectTimer.unref();
      this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MAX_MS);
    };
    c.on('error', (err) => lost(err.message));
    c.on('end', () => lost('connection ended'));
    c.on('notification', (msg) => {
      if (msg.channel !== NOTIFY_CHANNEL) return;
      for (const h of this.handlers) {
        try {
          h(msg.payload ?? '');
        } catch (err) {
          this.log?.error({ err }, 'hub notification handler failed');
        }
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
      if (this.listener === c) {
        this.listening = true;
        this.reconnectMs = 100;
      }
    } catch (err) {
      lost((err as Error).message);
    }
  }
}
