// Opens the hub's database from its settings: the embedded SQLite file when no database is
// given, PostgreSQL for a postgres:// URL. The store comes back migrated.
import type { Logger } from 'pino';
import { UsageError } from '../../command/errors.js';
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
    throw err;
  }
  return store;
}
