/**
 * Crashes in a fleet of real processes (issue 13, "Tests"): kill -9 of the hub stops neither
 * collection nor export, and the restarted hub has everything and hears the agents' full state
 * again; kill -9 of an agent makes it offline after 3 of its intervals, and restarted (with the hub
 * down: its last-known-good fleet layer) it keeps its instance UID and its fleet pin; a copied data
 * directory is detected as a clone and gets a UID of its own.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OtlpReceiver } from './otlp-receiver.js';
import { ADMIN_TOKEN, FleetAgent, FleetHub, HEARTBEAT_S, tempDir, until, type AgentDetailView, type AgentView, type JournalView } from './fleet-harness.js';

/** The fleet pins as the API lists them (ctl has no list of its own). */
async function pinsOf(hub: FleetHub): Promise<unknown> {
  const res = await fetch(`${hub.url}/api/v1/pins`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200);
  return res.json();
}

const FRAGMENT = 'control_loop:\n  target_reduction: 0.6\n';

/** A hub with one fleet config on env=e2e and a fleet pin aggressive on role=db, in force on `agents`. */
async function steer(hub: FleetHub, agents: FleetAgent[]): Promise<void> {
  const file = join(tempDir('fragment'), 'reduction.yaml');
  writeFileSync(file, FRAGMENT);
  const applied = await hub.ctl(['config', 'apply', file, '--name', 'reduction', '--selector', 'env=e2e']);
  assert.equal(applied.code, 0, applied.stderr);
  const pinned = await hub.ctl(['profile', 'set', 'aggressive', '--selector', 'role=db']);
  assert.equal(pinned.code, 0, pinned.stderr);
  await until('the config APPLIED on every agent', () => hub.agents(), (l) => l.length === agents.length && l.every((a) => a.config_status === 'APPLIED'));
  for (const a of agents) await until('the fleet layer in force', () => a.config(), (c) => c.control_loop.target_reduction === 0.6);
}

describe('the fleet through crashes', () => {
  it('kill -9 of the hub: agents keep collecting and exporting; the restarted hub has everything and hears their full state', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      let hub = await FleetHub.start();
      const exporting = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_COMPRESSION: 'none' };
      const [db, web] = await Promise.all([
        FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=e2e', env: exporting }),
        FleetAgent.start({ endpoint: hub.opamp, labels: 'role=web,env=e2e', env: exporting }),
      ]);
      await steer(hub, [db, web]);
      await until('the pin in force on the db agent', () => db.status(), (s) => s.profile.source === 'fleet pin');
      const before = {
        configs: await hub.json<unknown[]>(['config', 'list']),
        journal: await hub.json<JournalView[]>(['journal']),
        agents: await hub.agents(),
        pins: await pinsOf(hub),
      };
      assert.equal((before.pins as unknown[]).length, 1);
      const show = await hub.json<{ body: string }>(['config', 'show', 'reduction']);
      assert.equal(show.body, FRAGMENT);

      await hub.kill9();
      const intervals = [db.proc.intervals(), web.proc.intervals()];
      const exported = receiver.accepted().length;
      // While the hub is down: three more intervals each, exported to the loopback receiver.
      await until('three intervals on each agent with the hub down', () => [db.proc.intervals(), web.proc.intervals()], ([a, b]) => a! >= intervals[0]! + 3 && b! >= intervals[1]! + 3);
      await until('exports going on', () => receiver.accepted().length, (n) => n >= exported + 4);
      const down = await until('the db agent noticing the hub is gone', () => db.status(), (s) => !s.fleet.connected && s.fleet.last_error !== null);
      assert.deepEqual([down.profile.name, down.profile.source], ['aggressive', 'fleet pin'], 'the fleet pin stays in force');
      assert.equal((await db.config()).control_loop.target_reduction, 0.6, 'the fleet config stays in force');

      hub = await hub.restart();
      const restartedAt = Date.now();
      const after = await until(
        'both agents reporting to the restarted hub, online with their description',
        async () => Promise.all(before.agents.map((a) => hub.json<AgentDetailView>(['agent', a.instance_uid]))),
        (l) => l.every((a) => a.status === 'online' && Date.parse(a.last_seen) > restartedAt && a.description !== null && a.effective_config !== null && a.config_status === 'APPLIED'),
      );
      for (const a of after) {
        assert.equal(a.description!.identifying['service.instance.id'], a.instance_uid);
        assert.ok(a.description!.non_identifying['host.name']);
      }
      assert.deepEqual(await hub.json<unknown[]>(['config', 'list']), before.configs, 'configs kept');
      assert.deepEqual(await pinsOf(hub), before.pins, 'pins kept');
      assert.deepEqual(await hub.json<JournalView[]>(['journal']), before.journal, 'journal kept (and nothing added by the restart)');
      const listed = await hub.agents();
      assert.deepEqual(listed.map((a) => a.instance_uid).sort(), before.agents.map((a) => a.instance_uid).sort(), 'the same agents, no new UIDs');
      assert.deepEqual(
        listed.map((a) => [a.labels.role, a.fleet_pin?.profile ?? null]).sort(),
        [['db', 'aggressive'], ['web', null]],
        'the pin kept',
      );
      const s = await db.status();
      assert.equal(s.fleet.connected, true);
      assert.equal(s.profile.source, 'fleet pin');
      // A change after the restart still reaches the agents.
      const unset = await hub.ctl(['profile', 'unset', '--selector', 'role=db']);
      assert.equal(unset.code, 0, unset.stderr);
      await until('the pin removed after the restart', () => db.status(), (x) => x.profile.source !== 'fleet pin');
    } finally {
      await receiver.close();
    }
  });

  it('kill -9 of an agent: offline after 3 of its intervals; restarted with the hub down it runs its last fleet layer, and comes back with its UID', async () => {
    let hub = await FleetHub.start();
    const other = await FleetAgent.start({ endpoint: hub.opamp, labels: 'role=web,env=e2e' });
    let db = await FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=e2e' });
    await steer(hub, [db, other]);
    const { fleet } = await until('the pin in force', () => db.status(), (s) => s.profile.source === 'fleet pin');
    const uid = fleet.instance_uid;
    const otherUid = (await other.status()).fleet.instance_uid;
    await until('a heartbeat interval observed', () => hub.json<AgentDetailView>(['agent', uid]), (a) => (a as unknown as { observed_interval_seconds: number | null }).observed_interval_seconds !== null);

    await db.kill9();
    const killed = performance.now();
    const gone = await until('the agent offline', () => hub.agents(), (l) => l.find((a) => a.instance_uid === uid)?.status === 'offline', 20_000);
    assert.ok((performance.now() - killed) / 1000 < 3 * HEARTBEAT_S + 5 + 5, 'offline within 3 intervals and a sweep (every 5 s), plus the time ctl takes');
    // By the hub's own clock: offline once 3 of the intervals it observed passed without a message.
    const seen = await hub.json<AgentDetailView & { observed_interval_seconds: number }>(['agent', uid]);
    const silent = (Date.parse(seen.offline_since!) - Date.parse(seen.last_seen)) / 1000;
    assert.ok(Math.abs(seen.observed_interval_seconds - HEARTBEAT_S) < 0.3, `observed interval ${seen.observed_interval_seconds} s`);
    assert.ok(silent >= 3 * seen.observed_interval_seconds, `offline after ${silent} s of silence: before 3 intervals of ${seen.observed_interval_seconds} s`);
    assert.ok(silent < 3 * seen.observed_interval_seconds + 5 + 1, `offline only after ${silent} s of silence`);
    assert.equal(gone.find((a) => a.instance_uid !== uid)!.status, 'online', 'the other agent stays online');

    // The hub is down when the agent comes back: its fleet pin and config come from its own store.
    await hub.kill9();
    db = await db.restart();
    const alone = await until('a failed contact with the hub', () => db.status(), (s) => s.fleet.last_error !== null);
    assert.equal(alone.fleet.connected, false);
    assert.equal(alone.fleet.instance_uid, uid, 'the same instance UID');
    assert.deepEqual([alone.profile.name, alone.profile.source], ['aggressive', 'fleet pin'], 'the last-known-good fleet pin in force before any hub answered');
    assert.equal((await db.config()).control_loop.target_reduction, 0.6, 'the last-known-good fleet config in force');
    assert.equal(db.proc.lines.find((l) => typeof l.listen === 'string')?.profile, 'aggressive', 'from its first line');

    hub = await hub.restart();
    const back = await until('the agent online again', () => hub.agents(), (l) => l.length === 2 && l.every((a) => a.status === 'online' && a.config_status === 'APPLIED'));
    assert.deepEqual(back.map((a) => a.instance_uid).sort(), [uid, otherUid].sort(), 'back under its own UID, no new agent');
    const journal = await hub.json<JournalView[]>(['journal']);
    assert.ok(!journal.some((e) => e.action === 'agent.clone'), 'a restart is not a clone');
    assert.equal((await db.status()).profile.source, 'fleet pin');
  });

  it('copied data directories: two agents with one UID are told apart (started apart or together), and each clone is journaled', async () => {
    const hub = await FleetHub.start();
    const originals = await Promise.all(['db', 'web'].map((role) => FleetAgent.start({ endpoint: hub.opamp, labels: `role=${role},env=e2e` })));
    const uids = await Promise.all(originals.map(async (o) => (await until('connected', () => o.status(), (s) => s.fleet.connected)).fleet.instance_uid));
    await until('listed', () => hub.agents(), (l) => l.length === 2);
    await Promise.all(originals.map((o) => o.stop()));
    const copies = originals.map((o) => {
      const copy = tempDir('agent-copy');
      rmSync(copy, { recursive: true });
      cpSync(o.options.dataDir, copy, { recursive: true });
      return copy;
    });
    // db: the copy starts once the original has sent a few messages (their sequence numbers interleave).
    const db = await originals[0]!.restart();
    await until('the original polling again', () => hub.json<AgentDetailView>(['agent', uids[0]!]), (x) => x.status === 'online' && x.sequence_num >= 3);
    const dbCopy = await FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=e2e', dataDir: copies[0] });
    // web: both at once (they count in step).
    const [web, webCopy] = await Promise.all([originals[1]!.restart(), FleetAgent.start({ endpoint: hub.opamp, labels: 'role=web,env=e2e', dataDir: copies[1] })]);

    const listed = await until('four agents with distinct UIDs, all online', () => hub.agents(), (l) => l.length === 4 && l.every((x) => x.status === 'online'), 20_000);
    const listedUids = listed.map((x: AgentView) => x.instance_uid);
    assert.equal(new Set(listedUids).size, 4);
    for (const [i, pair] of [[db, dbCopy], [web, webCopy]].entries()) {
      const own = await Promise.all(pair.map(async (a) => (await a!.status()).fleet.instance_uid));
      assert.ok(own.includes(uids[i]!), `one of pair ${i} keeps the UID: ${own.join(', ')}`);
      for (const u of own) assert.ok(listedUids.includes(u), `each agent uses the UID the hub lists for it: ${u}`);
    }
    const journal = await hub.json<JournalView[]>(['journal']);
    const clones = journal.filter((e) => e.action === 'agent.clone');
    assert.deepEqual(clones.map((e) => e.target).sort(), [...uids].sort(), JSON.stringify(journal));
    for (const c of clones) assert.ok(listedUids.includes((c.details as { newInstanceUid: string }).newInstanceUid));
  });
});
