// The embedded backend: one SQLite file, `${dataDir}/hub.db`, for a single hub process.
// WAL with synchronous=NORMAL (a commit is an append, no fsync; a killed hub loses nothing it
// committed), a busy timeout so a CLI reading beside the hub waits instead of failing, foreign
// keys on. One process owns the file, so it is always the leader and notifications stay in it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Logger } from 'pino';
import { UserError } from '../../command/errors.js';
import { registerSqliteJson } from './json.js';
import { KyselyHubStore } from './kysely-store.js';
import type { HubDatabase } from './schema.js';

export const SQLITE_FILE = 'hub.db';

/**
 * The database as Kysely sees it, with each SQL text's prepared statement kept for the next query:
 * Kysely's SQLite driver prepares every query anew, which was 12% of the hub's CPU at 1,000 agents
 * (bench/hub.ts with --hub-node-flags=--cpu-prof). Texts are the store's queries, but a batch insert's
 * text varies with its row count: the least recently used ones go beyond `max`. The store never
 * streams (a statement mid-iteration could not serve another query).
 */
export function keepStatements(raw: Database.Database, max = 256): SqliteDatabase {
  const kept = new Map<string, Database.Statement>();
  return {
    close: () => raw.close(),
    prepare(sql: string) {
      let stmt = kept.get(sql);
      if (stmt) kept.delete(sql); // re-inserted below: the Map's order is the recency
      else stmt = raw.prepare(sql);
      kept.set(sql, stmt);
      if (kept.size > max) kept.delete(kept.keys().next().value!);
      return stmt;
    },
  };
}

export class SqliteHubStore extends KyselyHubStore {
  readonly dialect = 'sqlite' as const;
  readonly file: string;
  private readonly handlers: ((payload: string) => void)[] = [];

  private constructor(db: Kysely<HubDatabase>, file: string, log: Logger | undefined) {
    super(db, log);
    this.file = file;
  }

  /** Opens (creating the directory and file as needed) `${dataDir}/hub.db`; does not migrate. */
  static open(dataDir: string, log?: Logger): SqliteHubStore {
    const file = join(dataDir, SQLITE_FILE);
    let raw: Database.Database;
    try {
      mkdirSync(dataDir, { recursive: true });
      raw = new Database(file);
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('busy_timeout = 5000');
      raw.pragma('foreign_keys = ON');
    } catch (err) {
      throw new UserError(`cannot open the hub database ${file}: ${(err as Error).message}`);
    }
    registerSqliteJson(raw);
    return new SqliteHubStore(new Kysely<HubDatabase>({ dialect: new SqliteDialect({ database: keepStatements(raw) }) }), file, log);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async tryLeadership(): Promise<boolean> {
    return true;
  }

  /** Delivered to this process's handlers on a later turn, as PostgreSQL would. */
  async notify(payload: string): Promise<void> {
    const handlers = [...this.handlers];
    setImmediate(() => {
      for (const h of handlers) {
        try {
          h(payload);
        } catch (err) {
          this.log?.error({ err }, 'hub notification handler failed');
        }
      }
    });
  }

  onNotify(handler: (payload: string) => void): void {
    this.handlers.push(handler);
  }
}
