// One suite for both backends of HubStore: SQLite files in temporary folders, and a real
// PostgreSQL started for the run (test/postgres.ts; each test gets a new database). PostgreSQL's
// own concerns (migration lock, leadership, LISTEN/NOTIFY) are in postgres.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { startPostgres, type PostgresServer } from '../../../test/postgres.js';
import { freePort } from '../../../test/run.js';
import { openHubStore } from './index.js';
import type { HubStore, KpiSample } from './types.js';

/** A fresh, empty database: open() connects to it (again, for a restart). */
interface TestDatabase {
  open(): Promise<HubStore>;
}

interface Backend {
  fresh(t: TestContext): Promise<TestDatabase>;
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;

async function opened(t: TestContext, db: TestDatabase): Promise<HubStore> {
  const store = await db.open();
  t.after(() => store.close());
  return store;
}

function sample(uid: string, timeMs: number, values: Record<string, number>, group = 'env=prod', profile = 'balanced'): KpiSample {
  return { instanceUid: uid, timeMs, group, profile, values };
}

function storeSuite(backend: Backend): void {
  it('creates an agent, patches only the given fields, lists and forgets it', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const a = await store.upsertAgent('a1', { kind: 'nrdot', labels: { env: 'prod' }, offeredSettingsHash: 'h1' }, T0);
    assert.equal(a.firstSeenMs, T0);
    assert.equal(a.lastSeenMs, T0);
    assert.equal(a.status, 'online');
    assert.deepEqual(a.labels, { env: 'prod' });
    assert.equal(a.offeredSettingsHash, 'h1');
    const health = { healthy: true, status: 'ok', lastError: '', startTimeMs: T0, statusTimeMs: null, attributes: { x: 1 }, components: {} };
    const b = await store.upsertAgent('a1', { health, version: '1.2.3', effectiveConfig: { 'a.yaml': 'k: v' } }, T0 + 5000);
    assert.equal(b.kind, 'nrdot');
    assert.equal(b.firstSeenMs, T0);
    assert.deepEqual(b.health, health);
    assert.equal(b.version, '1.2.3');
    assert.deepEqual(b.labels, { env: 'prod' });
    assert.deepEqual(await store.getAgent('a1'), b);
    const c = await store.upsertAgent('a1', { version: null, sentConfigHash: 'abc' }, T0);
    assert.equal(c.version, null);
    assert.equal(c.sentConfigHash, 'abc');
    await store.upsertAgent('a0', {}, T0);
    assert.deepEqual((await store.listAgents()).map((x) => x.instanceUid), ['a0', 'a1']);
    assert.equal(await store.forgetAgent('a1'), true);
    assert.equal(await store.forgetAgent('a1'), false);
    assert.equal(await store.getAgent('a1'), null);
  });

  it('records a batch of heartbeats, ignoring unknown agents', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    await store.upsertAgent('a1', { observedIntervalSeconds: 30 }, T0);
    await store.upsertAgent('a2', {}, T0);
    await store.recordSeen([
      { instanceUid: 'a1', lastSeenMs: T0 + 1000, lastSequenceNum: 5, observedIntervalSeconds: null },
      { instanceUid: 'a2', lastSeenMs: T0 + 2000, lastSequenceNum: 7, observedIntervalSeconds: 10 },
      { instanceUid: 'ghost', lastSeenMs: T0, lastSequenceNum: 1, observedIntervalSeconds: 1 },
    ]);
    const a1 = await store.getAgent('a1');
    assert.equal(a1?.lastSeenMs, T0 + 1000);
    assert.equal(a1?.lastSequenceNum, 5);
    assert.equal(a1?.observedIntervalSeconds, 30, 'a null interval leaves the known one');
    const a2 = await store.getAgent('a2');
    assert.equal(a2?.lastSeenMs, T0 + 2000);
    assert.equal(a2?.observedIntervalSeconds, 10);
    assert.equal(await store.getAgent('ghost'), null);
  });

  it('marks agents offline after 3 of their own intervals (or the default), and online when seen again', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    await store.upsertAgent('fast', { observedIntervalSeconds: 10 }, T0);
    await store.upsertAgent('unknown', {}, T0);
    assert.deepEqual(await store.markOffline(T0 + 29_000, 30), []);
    assert.deepEqual(await store.markOffline(T0 + 31_000, 30), ['fast']);
    const fast = await store.getAgent('fast');
    assert.equal(fast?.status, 'offline');
    assert.equal(fast?.offlineSinceMs, T0 + 31_000);
    assert.deepEqual(await store.markOffline(T0 + 89_000, 30), []);
    assert.deepEqual(await store.markOffline(T0 + 91_000, 30), ['unknown']);
    assert.deepEqual(await store.markOffline(T0 + 200_000, 30), [], 'an offline agent is not reported twice');
    await store.recordSeen([{ instanceUid: 'fast', lastSeenMs: T0 + 300_000, lastSequenceNum: 9, observedIntervalSeconds: 10 }]);
    const back = await store.getAgent('fast');
    assert.equal(back?.status, 'online');
    assert.equal(back?.offlineSinceMs, null);
  });

  it('versions configurations: current ones listed, removed ones hidden, old versions kept', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const input = { name: 'base', selector: 'env=prod', priority: 10, opaque: false, body: 'a: 1\n', contentType: 'application/yaml', by: 'alice' };
    const v1 = await store.putConfig(input, T0);
    assert.equal(v1.version, 1);
    assert.equal(v1.hash, createHash('sha256').update('a: 1\n').digest('hex'));
    const v2 = await store.putConfig({ ...input, body: 'a: 2\n', opaque: true }, T0 + 1);
    assert.equal(v2.version, 2);
    await store.putConfig({ ...input, name: 'first', priority: 1 }, T0 + 2);
    assert.deepEqual(
      (await store.listConfigs()).map((c) => [c.name, c.version]),
      [
        ['first', 1],
        ['base', 2],
      ],
    );
    assert.deepEqual(await store.getConfig('base'), v2);
    assert.equal(await store.removeConfig('base', 'bob', T0 + 3), true);
    assert.equal(await store.removeConfig('base', 'bob', T0 + 4), false);
    assert.deepEqual((await store.listConfigs()).map((c) => c.name), ['first']);
    assert.equal(await store.getConfig('base'), null);
    assert.deepEqual(await store.getConfig('base', 1), v1);
    assert.equal((await store.putConfig(input, T0 + 5)).version, 3, 'a removed name comes back as its next version');
    assert.deepEqual((await store.listConfigs()).map((c) => [c.name, c.version]), [
      ['first', 1],
      ['base', 3],
    ]);
  });

  it('adds pins and removes them by selector and owner', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const pin = { profile: 'aggressive', until: null, by: 'alice', reason: '', selector: 'role=db', createdMs: T0 };
    const p1 = await store.addPin({ ...pin, ownerKind: 'operator', ownerId: null });
    await store.addPin({ ...pin, ownerKind: 'operator', ownerId: null, until: 1_900_000_000 });
    await store.addPin({ ...pin, ownerKind: 'rollout', ownerId: 'r1' });
    assert.equal(p1.profile, 'aggressive');
    assert.equal((await store.listPins()).length, 3);
    assert.equal((await store.listPins())[1]?.until, 1_900_000_000);
    assert.equal(await store.removePins('role=db', 'rollout', 'r2'), 0);
    assert.equal(await store.removePins('role=db', 'operator', null), 2);
    const left = await store.listPins();
    assert.deepEqual(left.map((p) => [p.ownerKind, p.ownerId]), [['rollout', 'r1']]);
  });

  it('queues requests: taken once, answered, counted per agent while pending', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const r1 = await store.enqueueRequest('a1', 'top', { n: 5 }, T0);
    const r2 = await store.enqueueRequest('a1', 'explain', { pid: 42 }, T0 + 1);
    await store.enqueueRequest('a2', 'journal', {}, T0 + 2);
    assert.equal(r1.state, 'pending');
    assert.equal(await store.pendingRequestCount(), 2);
    const taken = await store.takeRequests('a1', T0 + 10);
    assert.deepEqual(taken.map((r) => [r.id, r.state, r.sentMs]), [
      [r1.id, 'sent', T0 + 10],
      [r2.id, 'sent', T0 + 10],
    ]);
    assert.deepEqual(taken[1]?.body, { pid: 42 });
    assert.deepEqual(await store.takeRequests('a1', T0 + 11), []);
    assert.equal(await store.pendingRequestCount(), 1);
    await store.answerRequest(r1.id, { processes: [{ pid: 1 }] }, T0 + 20);
    const answered = await store.getRequest(r1.id);
    assert.equal(answered?.state, 'answered');
    assert.equal(answered?.answeredMs, T0 + 20);
    assert.deepEqual(answered?.response, { processes: [{ pid: 1 }] });
    assert.equal(await store.getRequest('nope'), null);
  });

  it('aggregates KPIs per agent and per (group, profile) minute: means, minimums, agents', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    await store.ingestKpis([
      sample('a1', T0 + 1000, { cost: 10, coverage: 1 }),
      sample('a1', T0 + 30_000, { cost: 20, coverage: 0.5 }),
      sample('a2', T0 + 2000, { cost: 30 }),
      sample('a3', T0 + 3000, { cost: 5 }, 'env=dev', 'aggressive'),
      sample('a1', T0 + MIN + 1, { cost: 40, coverage: 1 }),
    ]);
    // A later call into the same minute merges (a2 is not counted twice).
    await store.ingestKpis([sample('a2', T0 + 50_000, { cost: 60, coverage: 0.9 })]);
    const a1 = await store.agentKpis('a1', T0, T0 + 2 * MIN);
    assert.deepEqual(a1, [
      { timeMs: T0, values: { cost: 15, coverage: 0.75 }, min: { cost: 10, coverage: 0.5 }, samples: 2 },
      { timeMs: T0 + MIN, values: { cost: 40, coverage: 1 }, min: { cost: 40, coverage: 1 }, samples: 1 },
    ]);
    assert.deepEqual(await store.agentKpis('a1', T0 + MIN, T0 + 2 * MIN), [a1[1]], 'the window is [from, to)');
    const fleet = await store.fleetKpis(T0, T0 + MIN);
    assert.equal(fleet.length, 2);
    const prod = fleet.find((f) => f.group === 'env=prod');
    assert.deepEqual(prod, {
      timeMs: T0,
      group: 'env=prod',
      profile: 'balanced',
      agents: 2,
      samples: 4,
      values: { cost: 30, coverage: (1 + 0.5 + 0.9) / 3 },
      min: { cost: 10, coverage: 0.5 },
    });
    assert.deepEqual(
      fleet.find((f) => f.group === 'env=dev'),
      { timeMs: T0, group: 'env=dev', profile: 'aggressive', agents: 1, samples: 1, values: { cost: 5 }, min: { cost: 5 } },
    );
    assert.equal((await store.fleetKpis(T0, T0 + 2 * MIN)).length, 3);
  });

  it('ingests 2,000 agents in one call', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const batch = Array.from({ length: 2000 }, (_, i) => sample(`agent-${i}`, T0 + (i % 60) * 1000, { cost: i % 10, reduction: 0.7 }));
    const started = Date.now();
    await store.ingestKpis(batch);
    const ms = Date.now() - started;
    const [row] = await store.fleetKpis(T0, T0 + MIN);
    assert.equal(row?.agents, 2000);
    assert.equal(row?.samples, 2000);
    assert.equal(row?.values.cost, 4.5);
    assert.ok(ms < 10_000, `2,000 samples took ${ms} ms`);
  });

  it('downsamples minutes beyond retention into hours with the same means, and drops old hours', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const old = T0 - 10 * HOUR; // an hour bucket well beyond a 2 h minute retention
    await store.ingestKpis([
      sample('a1', old, { cost: 10 }),
      sample('a1', old + 20 * MIN, { cost: 20 }),
      sample('a1', old + 59 * MIN, { cost: 60, extra: 1 }),
      sample('a1', T0 - 30 * MIN, { cost: 99 }),
      sample('a1', T0 - 100 * HOUR, { cost: 1 }),
    ]);
    await store.downsample(T0, { minuteMs: 2 * HOUR, hourMs: 1000 * HOUR });
    await store.downsample(T0, { minuteMs: 2 * HOUR, hourMs: 1000 * HOUR }); // again: nothing changes
    const points = await store.agentKpis('a1', T0 - 11 * HOUR, T0);
    assert.deepEqual(points, [
      { timeMs: old, values: { cost: 30, extra: 1 }, min: { cost: 10, extra: 1 }, samples: 3 },
      { timeMs: T0 - 30 * MIN, values: { cost: 99 }, min: { cost: 99 }, samples: 1 },
    ]);
    const fleet = await store.fleetKpis(T0 - 11 * HOUR, T0);
    assert.deepEqual(
      fleet.map((f) => [f.timeMs, f.values.cost, f.samples, f.agents]),
      [
        [old, 30, 3, 1],
        [T0 - 30 * MIN, 99, 1, 1],
      ],
    );
    assert.equal((await store.agentKpis('a1', T0 - 101 * HOUR, T0 - 99 * HOUR)).length, 1, 'hourly rows within hourMs stay');
    await store.downsample(T0, { minuteMs: 2 * HOUR, hourMs: 50 * HOUR });
    assert.deepEqual(await store.agentKpis('a1', T0 - 101 * HOUR, T0 - 99 * HOUR), []);
    assert.deepEqual(await store.fleetKpis(T0 - 101 * HOUR, T0 - 99 * HOUR), []);
    assert.equal((await store.agentKpis('a1', old, T0)).length, 2);
  });

  it('folds more agents than one fold transaction takes, none lost or counted twice', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const old = T0 - 10 * HOUR;
    const uids = Array.from({ length: 2500 }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
    await store.ingestKpis(uids.flatMap((uid, i) => [sample(uid, old + MIN, { cost: i }), sample(uid, old + 30 * MIN, { cost: i + 2 })]));
    await store.downsample(T0, { minuteMs: 2 * HOUR, hourMs: 1000 * HOUR });
    for (const i of [0, 999, 1000, 1001, 1999, 2000, 2499]) {
      assert.deepEqual(await store.agentKpis(uids[i]!, old, T0), [{ timeMs: old, values: { cost: i + 1 }, min: { cost: i }, samples: 2 }], uids[i]);
    }
    assert.deepEqual(
      (await store.fleetKpis(old, T0)).map((f) => [f.timeMs, f.samples, f.agents]),
      [[old, 5000, 2500]],
    );
  });

  it('appends to the journal and lists it oldest first, since a time, the newest N', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    for (let i = 0; i < 5; i++) {
      const e = await store.appendJournal({ timeMs: T0 + i, actor: 'alice', action: 'config.apply', target: `c${i}`, details: { i } });
      assert.equal(e.target, `c${i}`);
    }
    assert.deepEqual((await store.listJournal({})).map((e) => e.target), ['c0', 'c1', 'c2', 'c3', 'c4']);
    assert.deepEqual((await store.listJournal({ sinceMs: T0 + 3 })).map((e) => e.target), ['c3', 'c4']);
    assert.deepEqual((await store.listJournal({ limit: 2 })).map((e) => e.target), ['c3', 'c4']);
    assert.deepEqual((await store.listJournal({ sinceMs: T0 + 1, limit: 10 }))[0]?.details, { i: 1 });
  });

  it('saves tokens once: a second save keeps the first', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    assert.deepEqual(await store.tokenHashes(), {});
    assert.equal(await store.saveTokens({ admin: 'a'.repeat(64), read: 'r'.repeat(64) }), true);
    assert.equal(await store.saveTokens({ admin: 'b'.repeat(64), read: 'c'.repeat(64) }), false);
    assert.deepEqual(await store.tokenHashes(), { admin: 'a'.repeat(64), read: 'r'.repeat(64) });
  });

  it('keeps everything across a restart', async (t) => {
    const db = await backend.fresh(t);
    const first = await db.open();
    await first.upsertAgent('a1', { labels: { role: 'db' } }, T0);
    await first.putConfig({ name: 'c', selector: '', priority: 0, opaque: true, body: 'x', contentType: 'text/plain', by: 'a' }, T0);
    await first.addPin({ profile: 'p', until: null, by: 'a', reason: 'r', selector: 's', ownerKind: 'operator', ownerId: null, createdMs: T0 });
    await first.appendJournal({ timeMs: T0, actor: 'a', action: 'config.apply', target: 'c', details: {} });
    await first.saveTokens({ admin: 'x', read: 'y' });
    await first.ingestKpis([sample('a1', T0, { cost: 1 })]);
    const req = await first.enqueueRequest('a1', 'top', {}, T0);
    await first.close();
    const second = await opened(t, db);
    await second.migrate(); // again: nothing to do
    assert.deepEqual((await second.getAgent('a1'))?.labels, { role: 'db' });
    assert.equal((await second.listConfigs())[0]?.opaque, true);
    assert.equal((await second.listPins()).length, 1);
    assert.equal((await second.listJournal({})).length, 1);
    assert.deepEqual(await second.tokenHashes(), { admin: 'x', read: 'y' });
    assert.equal((await second.fleetKpis(T0, T0 + MIN))[0]?.agents, 1);
    assert.equal((await second.getRequest(req.id))?.state, 'pending');
  });

  it('wakes its own onNotify handlers', async (t) => {
    const store = await opened(t, await backend.fresh(t));
    const got: string[] = [];
    store.onNotify((p) => got.push(p));
    const deadline = Date.now() + 10_000;
    // On PostgreSQL the listener connects in the background: notify until it hears one.
    while (got.length === 0 && Date.now() < deadline) {
      await store.notify('agent:a1');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(got[0], 'agent:a1');
  });
}

describe('HubStore on SQLite', () => {
  storeSuite({
    async fresh(t) {
      const dataDir = mkdtempSync(join(tmpdir(), 'nrdot-hub-store-'));
      t.after(() => rmSync(dataDir, { recursive: true, force: true }));
      return { open: () => openHubStore({ database: null, dataDir }) };
    },
  });

  it('is always the leader', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nrdot-hub-store-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = await openHubStore({ database: null, dataDir });
    t.after(() => store.close());
    assert.equal(store.dialect, 'sqlite');
    assert.equal(await store.tryLeadership(), true);
  });

  it('refuses a database migrated by a newer hub, naming what to do', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nrdot-hub-store-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    await (await openHubStore({ database: null, dataDir })).close();
    const raw = new Database(join(dataDir, 'hub.db'));
    raw.prepare('INSERT INTO hub_migrations (id, name, applied_ms) VALUES (99, ?, 0)').run('future');
    raw.close();
    await assert.rejects(openHubStore({ database: null, dataDir }), /has migration 99, newer than this nrdot-plus-hub knows .*run a newer hub/);
  });

  it('refuses a database setting that is not a PostgreSQL URL, naming NRDOT_HUB_DATABASE and not the password', async () => {
    await assert.rejects(openHubStore({ database: 'mysql://u:secret@h/db', dataDir: tmpdir() }), (err: Error) => {
      assert.match(err.message, /NRDOT_HUB_DATABASE must be a postgres:\/\/ or postgresql:\/\/ URL/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });
});

describe('HubStore on PostgreSQL', () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server?.stop());

  it('says which database it cannot reach, without its password', async () => {
    const port = await freePort();
    await assert.rejects(openHubStore({ database: `postgres://hub:s3cret@127.0.0.1:${port}/hub`, dataDir: tmpdir() }), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot use the hub database NRDOT_HUB_DATABASE=postgres://hub:\\*\\*\\*@127\\.0\\.0\\.1:${port}/hub: .*ECONNREFUSED`));
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
  });
  storeSuite({
    async fresh() {
      const url = await server.createDatabase();
      return { open: () => openHubStore({ database: url, dataDir: tmpdir() }) };
    },
  });
});
