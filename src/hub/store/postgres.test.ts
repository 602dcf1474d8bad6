// What only the PostgreSQL backend has: replicas migrating one database at once, leadership by
// advisory lock and its takeover, LISTEN/NOTIFY between replicas and its reconnect. A real
// PostgreSQL 15 (test/postgres.ts); connections are cut with pg_terminate_backend, as a crashed
// replica's would be.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../../../test/postgres.js';
import { MIGRATIONS } from './migrations.js';
import { LEADER_LOCK, PostgresHubStore } from './postgres.js';

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

describe('HubStore on PostgreSQL: replicas', () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  function open(t: TestContext, url: string): PostgresHubStore {
    const store = PostgresHubStore.open(url);
    t.after(() => store.close());
    return store;
  }

  it('migrates one empty database from two replicas at once', async (t) => {
    const url = await server.createDatabase();
    const stores = [open(t, url), open(t, url), open(t, url)];
    await Promise.all(stores.map((s) => s.migrate()));
    const applied = await query<{ id: number }>(url, 'SELECT id FROM hub_migrations ORDER BY id');
    assert.deepEqual(
      applied.map((r) => r.id),
      MIGRATIONS.map((m) => m.id),
    );
    const tables = await query<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    assert.deepEqual(
      tables.map((r) => r.tablename),
      ['agents', 'configs', 'hub_migrations', 'journal', 'kpi_agent', 'kpi_fleet', 'pins', 'requests', 'tokens'],
    );
    // Both replicas work on the result, including the SQL functions KPI merges use.
    await stores[0]!.ingestKpis([{ instanceUid: 'a', timeMs: 0, group: 'g', profile: 'p', values: { x: 1 } }]);
    await stores[1]!.ingestKpis([{ instanceUid: 'b', timeMs: 1, group: 'g', profile: 'p', values: { x: 3 } }]);
    const [row] = await stores[2]!.fleetKpis(0, 60_000);
    assert.deepEqual([row?.agents, row?.values.x, row?.min.x], [2, 2, 1]);
  });

  it('makes one replica leader; another takes over when its connection dies or it closes', async (t) => {
    const url = await server.createDatabase();
    const a = open(t, url);
    const b = open(t, url);
    assert.equal(await a.tryLeadership(), true);
    assert.equal(await b.tryLeadership(), false);
    assert.equal(await a.tryLeadership(), true, 'the leader stays leader');
    assert.equal(await b.tryLeadership(), false);

    // The leader's connection is cut (a crashed replica, a network cut the server noticed).
    const holders = await query<{ pid: number }>(
      url,
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
      [LEADER_LOCK.toString()],
    );
    assert.equal(holders.length, 1);
    await query(url, 'SELECT pg_terminate_backend($1)', [holders[0]!.pid]);
    // The server frees the lock with the session: the other replica's next call takes it.
    await until('the other replica to take over', () => b.tryLeadership());
    assert.equal(await a.tryLeadership(), false, 'the old leader notices, and reconnects as a follower');
    assert.equal(await b.tryLeadership(), true);

    await b.close();
    await until('leadership back after the leader closed', () => a.tryLeadership());
  });

  it('carries notifications between replicas, and again after the listening connection is cut', async (t) => {
    const url = await server.createDatabase();
    const a = open(t, url);
    const b = open(t, url);
    await a.migrate();
    const got: string[] = [];
    b.onNotify((p) => got.push(p));
    await until('b to listen', () => b.isListening);
    await a.notify('agent:1');
    await until('b to hear a', () => got.includes('agent:1'));

    await query(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nrdot-plus-hub-listen'");
    // Wakes sent while b reconnects are lost (by design): send until one arrives.
    await until('b to hear a after reconnecting', async () => {
      await a.notify('agent:2');
      await new Promise((r) => setTimeout(r, 50));
      return got.includes('agent:2');
    });
    assert.equal(b.isListening, true);
  });

  it('fails queries and gives up leadership while the server is down', async (t) => {
    const own = await startPostgres();
    t.after(() => own.stop());
    const store = open(t, own.url);
    await store.migrate();
    assert.equal(await store.tryLeadership(), true);
    own.kill();
    await assert.rejects(store.listAgents());
    assert.equal(await store.tryLeadership(), false, 'no leader without a database');
  });
});
