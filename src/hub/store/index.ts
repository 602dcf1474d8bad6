// Opens the hub's database from its settings: the embedded SQLite file when no database is
// given, PostgreSQL for a postgres:// URL. The store comes back migrated.
import type { Logger } from 'pino';
import { UsageError, UserError } from '../../command/errors.js';
import { SqliteHubStore } from './sqlite.js';
import type { HubStore } from './types.js';

export type { HubStore } from './types.js';

export interface OpenHubStoreOptions {
  /** NRDOT_HUB_DATABASE: null for SQLite, or a postgres:// / postgresql:// URL. */
  database: string | null;
  dataDir: string;
}

export async function openHubStore(opts: OpenHubStoreOptions, log?: Logger): Promise<HubStore> {
  let store: HubStore;
  if (opts.database === null || opts.database === '') {
    store = SqliteHubStore.open(opts.dataDir, log);
  } else if (/^postgres(ql)?:\/\//i.test(opts.database)) {
    const { PostgresHubStore } = await import('./postgres.js');
    store = PostgresHubStore.open(opts.database, log);
  } else {
    // Only the scheme: the rest may hold a password.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(opts.database)?.[1];
    throw new UsageError(
      `NRDOT_HUB_DATABASE must be a postgres:// or postgresql:// URL, or unset for the embedded SQLite database (got ${scheme ? `a ${scheme}: URL` : 'something that is not a URL'})`,
    );
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    if (store.dialect === 'postgres' && opts.database && !(err instanceof UserError)) {
      // Node reports a refused `localhost` (IPv4 and IPv6 tried) as an AggregateError with no message.
      const e = err as Error & { code?: string; errors?: Error[] };
      const why = e.message || e.errors?.[0]?.message || e.code || String(err);
      throw new UserError(`cannot use the hub database NRDOT_HUB_DATABASE=${redactUrl(opts.database)}: ${why}`);
    }
    throw err;
  }
  return store;
}

/** The URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a URL that does not parse)';
  }
}
