/**
 * Three real agents and the real hub on SQLite, driven by the real `nrdot-plus-ctl fleet` commands
 * (issue 13, "Tests"): agents appear with their labels within a heartbeat; a fleet pin reaches
 * exactly the agent its selector selects and `unset` undoes it; an invalid fleet configuration is
 * refused by the hub and nothing is stored; one that fails only on one agent's merged configuration is
 * FAILED there with its message and changes nothing there; the KPIs the agents send add up in
 * `fleet status`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { defaultConfig } from '../src/config/load.js';
import { FleetAgent, FleetHub, HEARTBEAT_S, tempDir, until, type AgentView, type FleetStatusView, type JournalView } from './fleet-harness.js';

/** The agent whose local file defines a profile named `quiet`: a fleet custom profile of that name fails there only. */
const QUIET_PROFILE = stringify({ profiles: { quiet: defaultConfig().profiles.balanced } });

describe('the fleet: three agents and a hub (SQLite)', () => {
  it('lists the agents, pins a profile on the selected one only, refuses an invalid config, reports one that fails on one agent, sums the KPIs', async () => {
    const hub = await FleetHub.start();
    const [db, web, batch] = await Promise.all([
      FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=e2e' }),
      FleetAgent.start({ endpoint: hub.opamp, labels: 'role=web,env=e2e', configText: QUIET_PROFILE }),
      FleetAgent.start({ endpoint: hub.opamp, labels: 'role=batch,env=e2e' }),
    ]);
    const uidOf = async (a: FleetAgent): Promise<string> => (await until('a connection to the hub', () => a.status(), (s) => s.fleet.connected)).fleet.instance_uid;
    const uids = { db: await uidOf(db), web: await uidOf(web), batch: await uidOf(batch) };

    const listed = await until('three agents listed', () => hub.agents(), (l) => l.length === 3 && l.every((a) => a.status === 'online' && a.profile !== null), 10_000);
    const byUid = new Map(listed.map((a) => [a.instance_uid, a]));
    for (const [role, uid] of Object.entries(uids)) {
      const a = byUid.get(uid);
      assert.ok(a, `agent ${role} (${uid}) listed: ${JSON.stringify(listed.map((x) => x.instance_uid))}`);
      assert.deepEqual(a.labels, { role, env: 'e2e' });
      assert.equal(a.kind, 'nrdot');
      assert.equal(a.profile, 'balanced');
    }
    // Registered with their labels within one heartbeat of starting: the hub's first sight of each
    // against the agent's first log line (both clocks are this machine's).
    for (const [a, uid] of [[db, uids.db], [web, uids.web], [batch, uids.batch]] as const) {
      const { first_seen: firstSeen } = await hub.json<{ first_seen: string }>(['agent', uid]);
      const after = Date.parse(firstSeen) - Date.parse(String(a.proc.lines[0]!.time));
      assert.ok(after < HEARTBEAT_S * 1000, `agent ${uid} registered ${after} ms after its first log line`);
    }
    const selected = await hub.json<AgentView[]>(['agents', '--selector', 'role in (db,web),!canary']);
    assert.deepEqual(selected.map((a) => a.instance_uid).sort(), [uids.db, uids.web].sort());

    // A fleet pin on role=db: that agent's own status says it comes from the fleet, within a poll.
    const set = await hub.ctl(['profile', 'set', 'aggressive', '--selector', 'role=db', '--reason', 'e2e']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /fleet pin aggressive on "role=db".*changes 1 agent/);
    const pinnedAt = performance.now();
    const pinned = await until('the fleet pin in force on the db agent', () => db.status(), (s) => s.profile.source === 'fleet pin', 10_000);
    // One poll is one heartbeat; ctl status takes its own few hundred ms per round.
    assert.ok(performance.now() - pinnedAt < HEARTBEAT_S * 1000 + 3000, `took ${Math.round(performance.now() - pinnedAt)} ms`);
    assert.equal(pinned.profile.name, 'aggressive');
    assert.equal(pinned.profile.fleet_pin?.profile, 'aggressive');
    for (const other of [web, batch]) {
      const s = await other.status();
      assert.equal(s.profile.name, 'balanced');
      assert.notEqual(s.profile.source, 'fleet pin');
      assert.equal(s.profile.fleet_pin, null);
    }
    const hubView = await until('the hub sees the pinned profile', () => hub.agents(), (l) => l.find((a) => a.instance_uid === uids.db)?.profile === 'aggressive');
    assert.equal(hubView.find((a) => a.instance_uid === uids.db)!.fleet_pin?.profile, 'aggressive');
    assert.deepEqual(hubView.filter((a) => a.instance_uid !== uids.db).map((a) => a.profile), ['balanced', 'balanced']);

    const unset = await hub.ctl(['profile', 'unset', '--selector', 'role=db']);
    assert.equal(unset.code, 0, unset.stderr);
    const unpinned = await until('the fleet pin gone from the db agent', () => db.status(), (s) => s.profile.source !== 'fleet pin', 10_000);
    assert.equal(unpinned.profile.name, 'balanced');
    assert.equal(unpinned.profile.fleet_pin, null);

    // An invalid fleet configuration: refused by the hub, naming the field; nothing stored.
    const dir = tempDir('fragments');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '# too much\ncontrol_loop:\n  target_reduction: 2\n');
    const journalBefore = await hub.json<JournalView[]>(['journal']);
    const refused = await hub.ctl(['config', 'apply', bad, '--name', 'too-much', '--selector', 'env=e2e']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /target_reduction/);
    assert.match(refused.stderr, /:3\b/, 'the line of the bad field');
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await hub.json<unknown[]>(['config', 'list']), []);
    assert.deepEqual(await hub.json<JournalView[]>(['journal']), journalBefore);

    // Valid over the defaults (what the hub checks), invalid over the web agent's own file (it defines
    // a profile named quiet): FAILED there with the message, and nothing of it in force there.
    const quiet = join(dir, 'quiet.yaml');
    writeFileSync(quiet, 'control_loop:\n  target_reduction: 0.6\ncustom_profiles:\n  quiet:\n    extends: conservative\n');
    const applied = await hub.ctl(['config', 'apply', quiet, '--name', 'quiet', '--selector', 'env=e2e', '--priority', '10']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /fleet config quiet version 1 stored.*changes 3 agent/);
    const reported = await until(
      'APPLIED on two agents, FAILED on the web agent',
      () => hub.agents(),
      (l) => l.filter((a) => a.config_status === 'APPLIED').length === 2 && l.find((a) => a.instance_uid === uids.web)?.config_status === 'FAILED',
      15_000,
    );
    const failed = reported.find((a) => a.instance_uid === uids.web)!;
    // The line of the key that names the profile (4), and the clash in words that fit a profile from the local file.
    assert.match(failed.config_error ?? '', /^fleet\/00-quiet\.yaml:4: custom_profiles\.quiet: a profile of this name is already defined/);
    assert.ok(failed.warnings.some((w) => w.startsWith('fleet configuration failed')), JSON.stringify(failed.warnings));
    assert.equal((await web.config()).control_loop.target_reduction, defaultConfig().control_loop.target_reduction, 'nothing of it in force on the web agent');
    const webStatus = await web.status();
    assert.equal(webStatus.fleet.remote_config.status, 'FAILED');
    for (const a of [db, batch]) assert.equal((await a.config()).control_loop.target_reduction, 0.6);

    // KPIs: each agent's latest figures reach the hub, and fleet status sums them.
    const sums = await until(
      'fleet status summing the KPIs of three agents',
      async () => {
        const [s, list, own] = await Promise.all([hub.json<FleetStatusView>(['status']), hub.agents(), Promise.all([db, web, batch].map((a) => a.status()))]);
        return { s, list, own };
      },
      ({ s, list, own }) => {
        if (s.agents_total !== 3 || s.agents_online !== 3) return false;
        const hubCost = list.map((a) => a.kpis?.cost_per_hour_baseline ?? NaN);
        const ownCost = own.map((o) => o.kpis?.cost_per_hour_baseline ?? NaN);
        const total = (xs: number[]): number => xs.reduce((x, y) => x + y, 0);
        return Math.abs(s.cost_per_hour_baseline - total(hubCost)) < 1e-6 && Math.abs(total(hubCost) - total(ownCost)) <= 1e-6 * Math.max(1, total(ownCost));
      },
      20_000,
    );
    const { s, list, own } = sums;
    assert.ok(s.cost_per_hour_baseline > 0, 'a cost was reported');
    const total = (xs: number[]): number => xs.reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(s.cost_per_hour_optimized - total(list.map((a) => a.kpis!.cost_per_hour_optimized!))) < 1e-6);
    assert.ok(Math.abs(s.cost_per_hour_optimized - total(own.map((o) => o.kpis!.cost_per_hour_optimized))) < 1e-6 * Math.max(1, s.cost_per_hour_optimized));
    assert.deepEqual(s.profiles, { balanced: 3 });
    assert.ok(s.reduction !== null && s.reduction > 0 && s.reduction < 1, `reduction ${s.reduction}`);

    // Everything done here is in the journal, in order.
    const journal = await hub.json<JournalView[]>(['journal']);
    assert.deepEqual(journal.map((e) => [e.action, e.target]), [['profile.set', 'role=db'], ['profile.unset', 'role=db'], ['config.apply', 'quiet']]);
  });
});
