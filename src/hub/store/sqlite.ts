// The embedded backend: one SQLite file, `${dataDir}/hub.db`, for a single hub process.
// WAL with synchronous=NORMAL (a commit is an append, no fsync; a killed hub loses nothing it
// committed), a busy timeout so a CLI reading beside the hub waits instead of failing, foreign
// keys on. One process owns the file, so it is always the leader and notifications stay in it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Logger } from 'pino';
import { UserError } from '../../command/errors.js';
import { registerSqliteJson } from './json.js';
import { KyselyHubStore } from './kysely-store.js';
import type { HubDatabase } from './schema.js';

export const SQLITE_FILE = 'hub.db';

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
    return new SqliteHubStore(new Kysely<HubDatabase>({ dialect: new SqliteDialect({ database: raw }) }), file, log);
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
