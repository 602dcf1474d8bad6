/**
 * The agent in a fleet, as real processes against a small OpAMP server on loopback (opamp-fake-hub.ts):
 * remote config APPLIED / FAILED / APPLYING, the layering order, the fleet pin's place in the
 * precedence, last-known-good across a restart with the hub down, own metrics, the request channel.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { uidToString } from '../src/fleet/codec.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { FakeHub } from './opamp-fake-hub.js';
import { attrs, OtlpReceiver } from './otlp-receiver.js';
import { CTL, run } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-fleet-'));
let dirs = 0;
const dataDir = (): string => mkdtempSync(join(root, `data-${++dirs}-`));
const SECRET = 'enroll-secret-0123456789abcdef';
const running: AgentProcess[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(running.map((a) => a.kill9()));
  await Promise.all(closers.map((c) => c()));
});

const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

async function startAgent(dir: string, endpoint: string, env: Record<string, string> = {}): Promise<AgentProcess> {
  const agent = AgentProcess.start(['--interval', '1'], {
    NRDOT_DATA_DIR: dir,
    NRDOT_CONFIG: '',
    NRDOT_OPAMP_ENDPOINT: endpoint,
    NRDOT_FLEET_LABELS: 'env=test,role=db',
    NRDOT_OPAMP_HEADERS: `authorization=Bearer ${SECRET}`,
    NRDOT_TEST_OPAMP_BACKOFF_MS: '200',
    ...env,
  });
  running.push(agent);
  await agent.waitForLog(isInterval, 20_000, 'the first interval');
  return agent;
}

async function ctl(dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });
}

interface Status {
  profile: { name: string; source: string; fleet_pin: { profile: string; by: string } | null };
  control: { running: boolean };
  reloads: { pending_restart: string[] };
  fleet: { enabled: boolean; connected: boolean; instance_uid: string; endpoint: string; last_error: string | null; remote_config: { status: string; error: string | null; fragments: string[] }; fleet_pin: unknown };
}

async function status(dir: string): Promise<Status> {
  const r = await ctl(dir, ['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shownConfig(dir: string): Promise<{ control_loop: { target_reduction: number }; exporters: { otlp: { compression: string } } }> {
  const r = await ctl(dir, ['config', 'show', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as never;
}

describe('the agent as an OpAMP client', () => {
  it('applies a remote config over the local file in fragment order, under the environment; reports it with labels, health and effective config; never shows the secret', async () => {
    const hub = await FakeHub.start();
    closers.push(() => hub.close());
    const dir = dataDir();
    const file = join(dir, 'optimization.yaml');
    writeFileSync(file, 'control_loop:\n  target_reduction: 0.5\n  max_series: 1500\n');
    hub.setConfig({ 'fleet/01-later.yaml': 'control_loop:\n  target_reduction: 0.65\n', 'fleet/00-base.yaml': 'control_loop:\n  target_reduction: 0.6\n  target_series: 900\n', 'other-agent.conf': 'ignored' });
    const agent = await startAgent(dir, hub.url, { NRDOT_CONFIG: file });
    await until('APPLIED', () => hub.agents.size > 0 && hub.only().remote?.status, (s) => s === 'APPLIED');
    const a = hub.only();
    const shown = await shownConfig(dir);
    assert.equal(shown.control_loop.target_reduction, 0.65, 'fleet/01 over fleet/00 over the local file');
    assert.equal((shown.control_loop as unknown as { target_series: number; max_series: number }).target_series, 900, 'what only fleet/00 sets');
    assert.equal((shown.control_loop as unknown as { max_series: number }).max_series, 1500, 'what only the file sets');
    const s = await status(dir);
    assert.equal(s.fleet.connected, true);
    assert.equal(s.fleet.instance_uid, a.uid);
    assert.deepEqual(s.fleet.remote_config.fragments, ['fleet/00-base.yaml', 'fleet/01-later.yaml']);
    assert.equal(a.identifying['service.name'], 'nrdot-plus');
    assert.equal(a.identifying['service.instance.id'], a.uid);
    assert.ok(a.identifying['host.id']);
    assert.equal(a.nonIdentifying['nrdot.fleet.labels.role'], 'db');
    assert.equal(a.nonIdentifying['nrdot.fleet.labels.env'], 'test');
    assert.ok(a.nonIdentifying['host.name'] && a.nonIdentifying['service.version'] && a.nonIdentifying['os.type']);
    assert.deepEqual(a.health?.attributes['nrdot.profile'], 'balanced');
    assert.ok(a.effective?.includes('target_reduction: 0.65'));
    assert.equal(a.headers[0]!.authorization, `Bearer ${SECRET}`, 'the enrollment secret travels as a bearer header');
    const human = await ctl(dir, ['status']);
    assert.match(human.stdout, /fleet hub\s+http:\/\/127\.0\.0\.1:\d+\/v1\/opamp \(http\), instance [0-9a-f-]{36}: connected[\s\S]*remote config APPLIED/);
    const shownText = (await ctl(dir, ['config', 'show'])).stdout;
    for (const [what, text] of [['status', human.stdout + JSON.stringify(s)], ['config show', shownText], ['effective config', a.effective!], ['the log', agent.stderr]] as const) {
      assert.ok(!text.includes(SECRET), `${what} shows the enrollment secret`);
    }
    assert.match(shownText, /authorization: "\*\*\*"|authorization: \*\*\*/);
    await agent.stop();
    // The environment wins over the fragments (and the last fleet layer is in force at start).
    const again = await startAgent(dir, hub.url, { NRDOT_CONFIG: file, NRDOT_TARGET_REDUCTION: '0.7' });
    assert.equal((await shownConfig(dir)).control_loop.target_reduction, 0.7);
    await again.stop();
  });

  it('reports FAILED (invalid, forbidden key) and keeps the previous configuration; APPLYING for a restart key; the last good layer survives a restart with the hub down', async () => {
    const hub = await FakeHub.start();
    closers.push(() => hub.close());
    const dir = dataDir();
    hub.setConfig({ 'fleet/00-good.yaml': 'control_loop:\n  target_reduction: 0.6\n' });
    let agent = await startAgent(dir, hub.url);
    await until('APPLIED', () => hub.agents.size > 0 && hub.only().remote?.status, (s) => s === 'APPLIED');
    hub.setConfig({ 'fleet/00-good.yaml': 'control_loop:\n  target_reduction: 0.6\n', 'fleet/10-bad.yaml': '# too much\ncontrol_loop:\n  target_reduction: 2\n' });
    const invalid = await until('FAILED', () => hub.only().remote, (r) => r?.status === 'FAILED');
    assert.match(invalid!.error, /fleet\/10-bad\.yaml:3: control_loop\.target_reduction: /);
    assert.equal((await shownConfig(dir)).control_loop.target_reduction, 0.6, 'the previous configuration stays in force');
    const s = await status(dir);
    assert.equal(s.fleet.remote_config.status, 'FAILED');
    assert.match(s.fleet.remote_config.error!, /fleet\/10-bad\.yaml/);
    hub.setConfig({ 'fleet/00-evil.yaml': 'exporters:\n  otlp:\n    endpoint: http://elsewhere.example:4318\n' });
    const forbidden = await until('FAILED for the forbidden key', () => hub.only().remote, (r) => r?.status === 'FAILED' && r.error.includes('evil'));
    assert.match(forbidden!.error, /fleet\/00-evil\.yaml: exporters\.otlp\.endpoint: a fleet configuration may not set this key/);
    const restartHash = hub.setConfig({ 'fleet/00-good.yaml': 'control_loop:\n  target_reduction: 0.55\n', 'fleet/05-compression.yaml': 'exporters:\n  otlp:\n    compression: none\n' });
    const applying = await until('APPLYING', () => hub.only().remote, (r) => r?.status === 'APPLYING');
    assert.equal(applying!.hash, restartHash);
    assert.match(applying!.error, /exporters take effect at the next start/);
    const shown = await shownConfig(dir);
    assert.equal(shown.control_loop.target_reduction, 0.55, 'what can be applied now is');
    assert.equal(shown.exporters.otlp.compression, 'gzip', 'what needs a restart waits for it');
    await agent.stop();
    await hub.close();
    // The hub is down: the agent starts with the last good fleet layer, restart keys included.
    agent = await startAgent(dir, hub.url);
    const down = await until('a failed contact', () => status(dir), (st) => st.fleet.last_error !== null);
    assert.equal(down.fleet.connected, false);
    assert.match(down.fleet.last_error!, /connection refused/);
    assert.equal(down.fleet.remote_config.status, 'APPLIED');
    const kept = await shownConfig(dir);
    assert.equal(kept.control_loop.target_reduction, 0.55);
    assert.equal(kept.exporters.otlp.compression, 'none', 'applied at this start');
    const intervals = agent.intervals();
    await until('collection going on', () => agent.intervals(), (n) => n >= intervals + 2);
    await agent.stop();
    // No endpoint: the fleet layer is dropped.
    agent = await startAgent(dir, '');
    assert.equal((await shownConfig(dir)).control_loop.target_reduction, 0.85);
    assert.deepEqual((await status(dir)).fleet, { enabled: false });
    await agent.stop();
  });

  it('adopts a new instance UID from the hub and keeps it across a restart', async () => {
    const hub = await FakeHub.start();
    closers.push(() => hub.close());
    const dir = dataDir();
    const fresh = uuidv7();
    hub.newUid = fresh;
    let agent = await startAgent(dir, hub.url);
    await until('the new UID in use', () => status(dir), (s) => s.fleet.instance_uid === uidToString(fresh));
    const adopted = await until('a description under the new UID', () => hub.agents.get(uidToString(fresh))?.identifying, (d) => d !== undefined);
    assert.equal(adopted!['service.instance.id'], uidToString(fresh));
    await agent.stop();
    agent = await startAgent(dir, hub.url);
    assert.equal((await status(dir)).fleet.instance_uid, uidToString(fresh));
    await agent.stop();
  });

  it('a hub that never answers holds up neither collection nor the local API', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, reads, never answers
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    closers.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const dir = dataDir();
    const agent = await startAgent(dir, `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/opamp`);
    await until('a request in flight', () => sockets.length, (n) => n >= 1);
    const before = agent.intervals();
    const started = performance.now();
    await until('three more intervals', () => agent.intervals(), (n) => n >= before + 3, 10_000);
    assert.ok(performance.now() - started < 5000, 'intervals keep their 1 s cadence');
    const s = await status(dir);
    assert.equal(s.fleet.connected, false);
    assert.equal(await agent.stop(), 0, 'and it stops promptly');
  });

  it('a fleet pin: below a local pin, above the schedule; journaled as the fleet; the control loop switch', async () => {
    const hub = await FakeHub.start();
    closers.push(() => hub.close());
    const dir = dataDir();
    const file = join(dir, 'optimization.yaml');
    writeFileSync(file, "advanced:\n  time_based_rules:\n    - name: always\n      schedule: '00:00-24:00'\n      profile: conservative\n");
    const agent = await startAgent(dir, hub.url, { NRDOT_CONFIG: file });
    assert.equal((await status(dir)).profile.source, 'schedule');
    const pin = { profile: 'aggressive', until: null, by: 'ops@hub', reason: 'canary' };
    hub.setConfig({ 'nrdot-fleet.json': JSON.stringify({ pin, control_loop: 'on', rollout: null, experiment: null }) });
    const pinned = await until('the fleet pin in force', () => status(dir), (s) => s.profile.source === 'fleet pin');
    assert.equal(pinned.profile.name, 'aggressive');
    assert.equal(pinned.profile.fleet_pin?.by, 'ops@hub');
    assert.equal(pinned.control.running, true, 'control_loop "on" starts the loop');
    await until('health names the fleet pin', () => hub.only().health?.attributes, (h) => h?.['nrdot.profile'] === 'aggressive' && h['nrdot.profile.reason'] === 'fleet pin');
    const shown = JSON.parse((await ctl(dir, ['profile', 'show', '--json'])).stdout) as { journal: Array<{ who: string; to: string; reason: string }> };
    assert.ok(shown.journal.some((e) => e.who === 'fleet' && e.to === 'aggressive' && /fleet pin aggressive by ops@hub: canary/.test(e.reason)), JSON.stringify(shown.journal.slice(0, 3)));
    assert.equal((await ctl(dir, ['profile', 'pin', 'minimal'])).code, 0);
    const local = await status(dir);
    assert.deepEqual([local.profile.name, local.profile.source], ['minimal', 'pin'], 'a local pin beats the fleet pin');
    assert.equal((await ctl(dir, ['profile', 'unpin'])).code, 0);
    assert.deepEqual([(await status(dir)).profile.name, (await status(dir)).profile.source], ['aggressive', 'fleet pin']);
    hub.setConfig({ 'nrdot-fleet.json': JSON.stringify({ pin: null, control_loop: null }) });
    const unpinned = await until('the fleet pin removed', () => status(dir), (s) => s.profile.source === 'schedule');
    assert.equal(unpinned.profile.name, 'conservative');
    assert.equal(unpinned.control.running, false, 'null leaves the configuration\'s switch (off)');
    await agent.stop();
  });

  it('sends own metrics and hub KPIs to the offered destination (never to the billed export) and answers the hub\'s requests at once', async () => {
    const hub = await FakeHub.start();
    closers.push(() => hub.close());
    const receiver = await OtlpReceiver.start();
    closers.push(() => receiver.close());
    hub.ownMetrics = `${receiver.url}/v1/metrics`;
    // The hub's receiver is down for the first batch: it is retried from the queue, not lost.
    receiver.respond = (n) => (n === 0 ? { status: 503 } : { status: 200 });
    const dir = dataDir();
    const exported = join(dir, 'billed.jsonl');
    const file = join(dir, 'optimization.yaml');
    writeFileSync(file, `exporters:\n  file:\n    path: ${exported}\n`);
    const agent = await startAgent(dir, hub.url, { NRDOT_CONFIG: file });
    await until('own metrics', () => receiver.accepted().length, (n) => n >= 2);
    const times = (r: { resourceMetrics: typeof receiver.requests[number]['resourceMetrics'] }): string[] =>
      r.resourceMetrics.flatMap((x) => x.scopeMetrics.flatMap((sm) => sm.metrics.filter((m) => m.name === 'nrdot.hub.visibility').flatMap((m) => m.gauge!.dataPoints.map((p) => p.timeUnixNano))));
    const refused = times(receiver.requests[0]!);
    assert.equal(receiver.requests[0]!.status, 503);
    await until('the refused batch delivered from the queue', () => receiver.accepted().length, () => receiver.requests.filter((r) => r.status === 200).some((r) => times(r).includes(refused[0]!)), 15_000);
    const uid = hub.only().uid;
    const r = receiver.accepted().at(-1)!;
    const resource = attrs(r.resource.attributes);
    assert.equal(resource['service.instance.id'], uid);
    assert.equal(resource['service.name'], 'nrdot-plus');
    const names = new Set(r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)));
    for (const n of ['nrdot.hub.datapoints', 'nrdot.hub.visibility', 'nrdot.hub.shadow.cost_per_hour', 'nrdot.estimated.cost_per_hour', 'nrdot.agent.memory.rss']) assert.ok(names.has(n), `${n} in ${[...names].join(', ')}`);
    const shadow = r.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.name === 'nrdot.hub.shadow.cost_per_hour')!;
    assert.ok(shadow.gauge!.dataPoints.some((p) => attrs(p.attributes)['nrdot.profile'] === 'minimal'));
    assert.equal(receiver.requests[0]!.headers.authorization, `Bearer ${SECRET}`, 'the hub\'s receiver gets the enrollment secret too');
    assert.ok(!readFileSync(exported, 'utf8').includes('nrdot.hub.'), 'hub KPIs never go into the billed export');
    const a = hub.only();
    const id = hub.request('journal', { limit: 3 }, 'req-1');
    const asked = performance.now();
    const journal = await until('the journal answer', () => a.responses.find((x) => x.id === id), (x) => x !== undefined, 5000);
    assert.ok(performance.now() - asked < 2500, 'answered within a poll');
    assert.equal(journal!.ok, true);
    assert.ok(Array.isArray((journal!.result as { entries: unknown[] }).entries));
    hub.request('top', { limit: 5 }, 'req-2');
    const top = await until('the top answer', () => a.responses.find((x) => x.id === 'req-2'), (x) => x !== undefined, 5000);
    assert.ok(((top!.result as { processes: unknown[] }).processes.length) <= 5);
    hub.request('explain', { pid: 999_999_999 }, 'req-3');
    const explain = await until('the explain answer', () => a.responses.find((x) => x.id === 'req-3'), (x) => x !== undefined, 5000);
    assert.equal(explain!.ok, false);
    assert.match(String(explain!.error), /no process with pid 999999999/);
    await agent.stop();
    assert.ok(a.messages.at(-1)!.agentDisconnect, 'AgentDisconnect on shutdown');
  });
});
