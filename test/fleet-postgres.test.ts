/**
 * The fleet on a real PostgreSQL (test/postgres.ts; issue 13, "Tests"): the hub's main flow on it,
 * then two replicas started together on one empty database behind a TCP balancer (round robin per
 * connection), real agents through the balancer, and kill -9 of the replica leading the background
 * jobs: the survivor serves every agent (online, a config change reaches them), takes over the jobs
 * (an agent killed afterwards goes offline through it) and no KPI is lost (the agents' own-metrics
 * queue redelivers what the dead replica did not take: the hub's KPI minutes match the agent's own
 * history interval for interval).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FleetAgent, FleetHub, fleetJson, tempDir, until, type AgentView, type FleetStatusView, type JournalView } from './fleet-harness.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { freePort } from './run.js';
import { TcpBalancer } from './tcp-balancer.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

function fragment(text: string): string {
  const file = join(tempDir('fragment'), 'fragment.yaml');
  writeFileSync(file, text);
  return file;
}

interface KpiPoints {
  points: Array<{ time: string; samples: number }>;
}

/** An agent's intervals and the KPI samples the hub has of it, read so that an interval collected meanwhile shows. */
interface Account {
  intervals: number;
  samples: number;
  /** Own-metrics batches waiting in the agent's queue, and dropped from it. */
  queued: number;
  dropped: number;
  failed: number;
  minutes: number[];
}

async function account(agent: FleetAgent, uid: string, base: string): Promise<Account | null> {
  const before = agent.proc.intervals();
  const [status, kpis] = await Promise.all([agent.apiStatus(), fetchKpis(base, uid)]);
  if (agent.proc.intervals() !== before) return null; // an interval meanwhile: read again
  const own = (status.fleet as unknown as { own_metrics: { queue_batches: number; dropped: number; failed: number } | null }).own_metrics;
  if (!own) return null;
  return {
    intervals: before,
    samples: kpis.points.reduce((x, p) => x + p.samples, 0),
    queued: own.queue_batches,
    dropped: own.dropped,
    failed: own.failed,
    minutes: kpis.points.map((p) => Date.parse(p.time)),
  };
}

/**
 * Intervals an agent collected that never go to the hub (those before its first own-metrics offer):
 * the smallest difference seen over three settled reads (one may catch a delivery in flight).
 */
async function unsentIntervals(agent: FleetAgent, uid: string, base: string): Promise<number> {
  const seen: number[] = [];
  while (seen.length < 3) {
    const a = await until('a settled read of the KPI account', () => account(agent, uid, base), (x) => x !== null && x.queued === 0);
    seen.push(a!.intervals - a!.samples);
  }
  const c = Math.min(...seen);
  assert.ok(c >= 0 && c <= 2, `the hub has ${c} intervals fewer than the agent collected before any failover`);
  return c;
}

describe('the fleet on PostgreSQL', () => {
  it('the main flow: agents listed with labels, a fleet pin on the selected agent only, an invalid config refused, KPIs summed', async () => {
    const hub = await FleetHub.start({ database: await server.createDatabase() });
    const [db, web] = await Promise.all([
      FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=pg' }),
      FleetAgent.start({ endpoint: hub.opamp, labels: 'role=web,env=pg' }),
    ]);
    const listed = await until('two agents listed', () => hub.agents(), (l) => l.length === 2 && l.every((a) => a.status === 'online' && a.kpis !== null));
    assert.deepEqual(listed.map((a) => a.labels.role).sort(), ['db', 'web']);
    const set = await hub.ctl(['profile', 'set', 'conservative', '--selector', 'role=db']);
    assert.equal(set.code, 0, set.stderr);
    const pinned = await until('the fleet pin in force on the db agent', () => db.status(), (s) => s.profile.source === 'fleet pin');
    assert.equal(pinned.profile.name, 'conservative');
    assert.notEqual((await web.status()).profile.source, 'fleet pin');
    const refused = await hub.ctl(['config', 'apply', fragment('control_loop:\n  target_reduction: 2\n'), '--name', 'bad', '--selector', '']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /target_reduction/);
    assert.deepEqual(await hub.json<unknown[]>(['config', 'list']), []);
    const status = await until('KPIs of both agents summed', () => hub.json<FleetStatusView>(['status']), (s) => s.agents_online === 2 && s.cost_per_hour_baseline > 0);
    const agents = await hub.agents();
    const sum = agents.reduce((x, a) => x + (a.kpis?.cost_per_hour_baseline ?? 0), 0);
    // Read one after the other: a KPI may arrive in between; equal within one interval's change.
    assert.ok(Math.abs(status.cost_per_hour_baseline - sum) <= 0.01 * sum, `${status.cost_per_hour_baseline} vs ${sum}`);
    const unset = await hub.ctl(['profile', 'unset', '--selector', 'role=db']);
    assert.equal(unset.code, 0, unset.stderr);
    await until('the pin removed', () => db.status(), (s) => s.profile.source !== 'fleet pin');
    assert.deepEqual((await hub.json<JournalView[]>(['journal'])).map((e) => e.action), ['profile.set', 'profile.unset']);
  });

  it('two replicas behind a balancer: kill -9 of the leader, the survivor serves every agent, runs the jobs, and no KPI is lost', async () => {
    const database = await server.createDatabase();
    const ports = [await freePort(), await freePort()];
    const balancer = await TcpBalancer.start(ports);
    try {
      // Both at once on the empty database: the migrations run under the advisory lock.
      const env = { NRDOT_HUB_PUBLIC_URL: balancer.url };
      const replicas = await Promise.all(ports.map((port) => FleetHub.start({ database, port, env })));
      const agents = await Promise.all(['db', 'web', 'batch'].map((role) => FleetAgent.start({ endpoint: `${balancer.url}/v1/opamp`, labels: `role=${role},env=ha` })));
      const listed = await until('three agents online through the balancer', () => fleetJson<AgentView[]>(balancer.url, ['agents']), (l) => l.length === 3 && l.every((a) => a.status === 'online' && a.kpis !== null));
      assert.equal(new Set(listed.map((a) => a.instance_uid)).size, 3);
      for (const [port, n] of Object.entries(balancer.connections())) assert.ok(n > 0, `replica on port ${port} got no connection: ${JSON.stringify(balancer.connections())}`);
      const c = new pg.Client({ connectionString: database });
      await c.connect();
      const migrated = await c.query<{ n: string }>('SELECT count(*) AS n FROM hub_migrations').finally(() => c.end());
      assert.ok(Number(migrated.rows[0]!.n) >= 1);

      const leads = (h: FleetHub): number => h.proc.lines.filter((l) => /now the leader/.test(String(l.msg))).length;
      const leader = (await until('one replica leading', () => replicas.filter((h) => leads(h) > 0), (l) => l.length === 1))[0]!;
      const survivor = replicas.find((h) => h !== leader)!;
      const uids = await Promise.all(agents.map(async (a) => (await a.status()).fleet.instance_uid));
      const unsent = await Promise.all(agents.map((a, i) => unsentIntervals(a, uids[i]!, survivor.url)));
      assert.equal(leads(survivor), 0, 'the other replica never led');
      // Every agent's next requests go to the leader, which then hangs (SIGSTOP) with them in flight
      // and dies (kill -9): the KPIs it never answered must come back through the survivor.
      const before = balancer.connections()[leader.options.port]!;
      balancer.steer(leader.options.port);
      await until('every agent connected to the leader again', () => balancer.connections()[leader.options.port]!, (n) => n >= before + 2 * agents.length, 10_000);
      const sent = agents.map((a) => a.proc.intervals());
      process.kill(leader.proc.child.pid!, 'SIGSTOP');
      await until('an interval on every agent with the leader hung', () => agents.map((a) => a.proc.intervals()), (n) => n.every((x, i) => x >= sent[i]! + 2));
      await leader.kill9();
      balancer.steer(null);
      const killedAt = performance.now();
      // The survivor takes the jobs over (the dead one's advisory lock went with its connection).
      await survivor.proc.waitFor(() => (leads(survivor) > 0 ? true : undefined), 15_000, 'the survivor leading');
      const takeover = (performance.now() - killedAt) / 1000;

      // Every agent stays online, read through the survivor (via the balancer: it has only the one now).
      const intervals = agents.map((a) => a.proc.intervals());
      await until('five more intervals on every agent', () => agents.map((a) => a.proc.intervals()), (n) => n.every((x, i) => x >= intervals[i]! + 5));
      const online = await fleetJson<AgentView[]>(balancer.url, ['agents']);
      assert.deepEqual(online.map((a) => a.status), ['online', 'online', 'online'], JSON.stringify(online.map((a) => [a.instance_uid, a.status, a.offline_since])));
      assert.deepEqual(await fleetJson<AgentView[]>(survivor.url, ['agents']).then((l) => l.map((a) => a.instance_uid).sort()), listed.map((a) => a.instance_uid).sort());

      // A config change through the survivor reaches every agent.
      const applied = await survivor.ctl(['config', 'apply', fragment('control_loop:\n  target_reduction: 0.6\n'), '--name', 'after-failover', '--selector', 'env=ha']);
      assert.equal(applied.code, 0, applied.stderr);
      await until('APPLIED on every agent', () => survivor.agents(), (l) => l.every((a) => a.config_status === 'APPLIED'));
      for (const a of agents) assert.equal((await a.config()).control_loop.target_reduction, 0.6);

      // No KPI lost: once the agents' queues are empty, the hub has one sample for each interval every
      // agent collected since its first offer (as many as before the failover), in minutes without a gap.
      const settled = await Promise.all(
        agents.map((a, i) =>
          until(
            `the hub holding every interval of agent ${i} (${unsent[i]} never sent)`,
            () => account(a, uids[i]!, survivor.url),
            (x) => x !== null && x.queued === 0 && x.samples === x.intervals - unsent[i]!,
            20_000,
          ),
        ),
      );
      for (const x of settled) {
        assert.equal(x!.dropped, 0);
        const ms = x!.minutes.sort((p, q) => p - q);
        for (let i = 1; i < ms.length; i++) assert.equal(ms[i]! - ms[i - 1]!, 60_000, `a gap in the KPI minutes: ${ms.map((m) => new Date(m).toISOString()).join(', ')}`);
      }
      // Each agent had KPIs in flight to the dead leader: retried from its queue, none dropped.
      const hubOtlp = `${balancer.url}/v1/metrics`;
      const recovered = agents.map((a) => a.proc.lines.find((l) => l.otlp_endpoint === hubOtlp && typeof l.failed_attempts === 'number'));
      assert.ok(recovered.every((l) => l !== undefined), `every agent retried its own metrics: ${recovered.map((l) => String(l?.msg ?? 'no retry')).join(' / ')}`);
      for (const x of settled) assert.equal(x!.failed, 0, 'no own-metrics batch dropped for good');
      process.stderr.write(`takeover by the survivor ${takeover.toFixed(1)} s after kill -9; ${recovered.map((l) => String(l!.msg)).join(' / ')}\n`);

      // The jobs run on the survivor: an agent killed now goes offline through it.
      const victim = agents[2]!;
      const victimUid = uids[2]!;
      await victim.kill9();
      await until('the killed agent offline, seen by the survivor', () => survivor.agents(), (l) => l.find((a) => a.instance_uid === victimUid)?.status === 'offline', 20_000);
      assert.deepEqual((await survivor.agents()).filter((a) => a.status === 'online').length, 2);
    } finally {
      await balancer.close();
    }
  });
});

async function fetchKpis(base: string, uid: string): Promise<KpiPoints> {
  const res = await fetch(`${base}/api/v1/agents/${uid}/kpis`, { headers: { authorization: `Bearer e2e-admin-token-0123456789` } });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as KpiPoints;
}
