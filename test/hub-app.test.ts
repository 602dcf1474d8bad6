// nrdot-plus-hub as a real process on a free loopback port with a temporary data directory, and
// nrdot-plus-ctl's fleet commands against it, as a user runs them.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  AgentCapabilities,
  ComponentHealthSchema,
  create,
  CustomCapabilitiesSchema,
  recordToAttributes,
  RemoteConfigStatusSchema,
  RemoteConfigStatuses,
  uidToString,
} from '../src/fleet/codec.js';
import { DIRECTIVES_FILE, NRDOT_CAPABILITY } from '../src/fleet/directives.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { openHubStore } from '../src/hub/store/index.js';
import type { HubStore } from '../src/hub/store/types.js';
import { NO_PROXY_ENV } from './agent-process.js';
import { message, post } from './hub-harness.js';
import { HUB, HubProcess, hubDataDir } from './hub-process.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { CTL, REPO, freePort, run, type RunResult } from './run.js';

const tokenFrom = (stdout: string, kind: 'admin' | 'read'): string | undefined => new RegExp(`^${kind} token: (\\S+)$`, 'm').exec(stdout)?.[1];

function ctl(url: string, token: string | null, args: string[]): Promise<RunResult> {
  return run(CTL, ['fleet', ...args], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_HUB_URL: url, NRDOT_HUB_TOKEN: token ?? '', COLUMNS: '200', NO_COLOR: '1' } });
}

describe('nrdot-plus-hub, the process', () => {
  it('starts with no configuration, says where, prints its tokens once; a restart keeps tokens and data', async () => {
    const dir = hubDataDir();
    const hub = HubProcess.start(dir);
    const url = await hub.url();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await hub.waitForLog((l) => l.database === `SQLite ${join(dir, 'hub.db')}`, 5000, 'the database line');
    await hub.waitForLog((l) => l.data_dir === dir, 5000, 'the data dir line');
    const admin = await hub.waitFor(() => tokenFrom(hub.stdout, 'admin'), 5000, 'the admin token');
    const read = tokenFrom(hub.stdout, 'read');
    assert.ok(read);
    assert.ok(!hub.stderr.includes(admin), 'the token is printed, never logged');

    const fragment = join(dir, 'web.yaml');
    writeFileSync(fragment, 'control_loop:\n  target_reduction: 0.8\n');
    const applied = await ctl(url, admin, ['config', 'apply', fragment, '--name', 'web', '--selector', 'role=web']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /fleet config web version 1 stored/);
    assert.equal(await hub.stop(), 0);
    assert.ok(hub.lines.some((l) => l.msg === 'stopped'));

    const again = HubProcess.start(dir);
    const url2 = await again.url();
    // One hub per SQLite database: a second on the same data directory refuses to start.
    const second = await run(HUB, ['--listen', '127.0.0.1:0'], { env: { ...process.env, NRDOT_HUB_DATA_DIR: dir } });
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`another nrdot-plus-hub \\(pid ${again.child.pid}\\) is running with the data directory ${dir}`));
    const list = await ctl(url2, admin, ['config', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((c: { name: string; version: number }) => [c.name, c.version]), [['web', 1]]);
    // The same admin token still changes things; no new token was printed.
    const removed = await ctl(url2, admin, ['config', 'remove', 'web']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(again.stdout, '');
    assert.equal(await again.stop(), 0);
  });

  it('a bad variable exits 2 naming it; a bad hub.yaml exits 1 with file:line; beyond loopback without TLS it refuses', async () => {
    const dir = hubDataDir();
    const bad = await run(HUB, ['--listen', '127.0.0.1:0'], { env: { ...process.env, NRDOT_HUB_DATA_DIR: dir, NRDOT_HUB_HEARTBEAT_SECONDS: 'often' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^nrdot-plus-hub: NRDOT_HUB_HEARTBEAT_SECONDS: must be a whole number of seconds from 1 to 3600 \(got "often"\)$/m);
    writeFileSync(join(dir, 'hub.yaml'), 'listen: 127.0.0.1:0\nauth:\n  agent_secrt: x\n');
    const file = await run(HUB, [], { env: { ...process.env, NRDOT_HUB_DATA_DIR: dir } });
    assert.equal(file.code, 1);
    assert.match(file.stderr, new RegExp(`^nrdot-plus-hub: ${join(dir, 'hub.yaml')}:3: auth\\.agent_secrt: unknown setting$`, 'm'));
    const open = await run(HUB, ['--listen', '0.0.0.0:0'], { env: { ...process.env, NRDOT_HUB_DATA_DIR: hubDataDir() } });
    assert.equal(open.code, 1);
    assert.match(open.stderr, /refusing to listen on 0\.0\.0\.0:0 \(beyond loopback\) without TLS/);
    const flag = await run(HUB, ['--heartbeat-seconds', '0'], { env: { ...process.env, NRDOT_HUB_DATA_DIR: hubDataDir() } });
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--heartbeat-seconds/);
  });

  it('never logs the database password, even when the database refuses', async () => {
    const port = await freePort();
    const r = await run(HUB, ['--listen', '127.0.0.1:0'], {
      env: { ...process.env, NRDOT_HUB_DATA_DIR: hubDataDir(), NRDOT_HUB_DATABASE: `postgres://hub:Sup3rSecretPw@127.0.0.1:${port}/hub`, NRDOT_LOG_FORMAT: 'json' },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /postgres:\/\/hub:\*\*\*@127\.0\.0\.1/);
    assert.ok(!r.stderr.includes('Sup3rSecretPw') && !r.stdout.includes('Sup3rSecretPw'), r.stderr);
  });
});

describe('nrdot-plus-hub on PostgreSQL', () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.stop());

  it('two replicas started together share one database: one creates the tokens, both accept them, a change on one shows on the other; the password is never logged', async () => {
    const url = new URL(await pg.createDatabase());
    url.password = 'Rep1icaPassw0rd'; // trust authentication on loopback ignores it; the hub must still hide it
    const env = { NRDOT_HUB_DATABASE: url.toString() };
    const a = HubProcess.start(hubDataDir(), env);
    const b = HubProcess.start(hubDataDir(), env);
    const [urlA, urlB] = await Promise.all([a.url(30_000), b.url(30_000)]);
    const printed = [a, b].filter((h) => tokenFrom(h.stdout, 'admin') !== undefined);
    assert.equal(printed.length, 1, `exactly one replica prints the tokens: ${a.stdout} / ${b.stdout}`);
    const admin = tokenFrom(printed[0]!.stdout, 'admin')!;
    const line = await a.waitForLog((l) => typeof l.database === 'string', 5000, 'the database line');
    assert.match(String(line.database), /^PostgreSQL postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\//);
    const fragment = join(hubDataDir(), 'all.yaml');
    writeFileSync(fragment, 'control_loop:\n  target_reduction: 0.8\n');
    const applied = await ctl(urlB, admin, ['config', 'apply', fragment, '--name', 'all', '--selector', '']);
    assert.equal(applied.code, 0, applied.stderr);
    const list = JSON.parse((await ctl(urlA, null, ['config', 'list', '--json'])).stdout) as Array<{ name: string }>;
    assert.deepEqual(list.map((c) => c.name), ['all']);
    assert.equal(await a.stop(), 0);
    assert.equal(await b.stop(), 0);
    for (const h of [a, b]) assert.ok(!h.stderr.includes('Rep1icaPassw0rd') && !h.stdout.includes('Rep1icaPassw0rd'), h.stderr);
  });
});

const OPENSSL = '/usr/bin/openssl';

/** A self-signed certificate for 127.0.0.1 in `dir`: cert.pem and key.pem. */
function selfSigned(dir: string): { cert: string; key: string } {
  execFileSync(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

describe('nrdot-plus-hub over TLS', { skip: existsSync(OPENSSL) ? undefined : 'openssl is not installed (apt-get install openssl)' }, () => {
  it('serves https with the configured certificate; a missing key file is named', async () => {
    const dir = hubDataDir();
    const { cert, key } = selfSigned(dir);
    const hub = HubProcess.start(dir, { NRDOT_HUB_TLS_CERT: cert, NRDOT_HUB_TLS_KEY: key });
    const url = await hub.url();
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      request(`${url}/healthz`, { ca: readFileSync(cert) }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
      }).on('error', reject).end();
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
    assert.equal(await hub.stop(), 0);
    const missing = await run(HUB, ['--listen', '127.0.0.1:0'], { env: { ...process.env, NRDOT_HUB_DATA_DIR: hubDataDir(), NRDOT_HUB_TLS_CERT: cert, NRDOT_HUB_TLS_KEY: join(dir, 'nope.pem') } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /TLS key .*nope\.pem: no such file/);
  });
});

describe('nrdot-plus-ctl fleet, against a real hub', () => {
  let hub: HubProcess;
  let url: string;
  let admin: string;
  let read: string;
  let dir: string;
  let store: HubStore;

  before(async () => {
    dir = hubDataDir();
    hub = HubProcess.start(dir);
    url = await hub.url();
    admin = await hub.waitFor(() => tokenFrom(hub.stdout, 'admin'), 5000, 'the admin token');
    read = tokenFrom(hub.stdout, 'read')!;
    // Agents written into the hub's own database beside it (SQLite in WAL mode takes both).
    store = await openHubStore({ database: null, dataDir: dir }, pino({ level: 'silent' }));
    const now = Date.now();
    const kpis = (base: number, opt: number) => ({
      timeMs: now, profile: 'balanced', costPerHourBaseline: base, costPerHourOptimized: opt, datapointsBaseline: 1000, datapointsExported: 80,
      reduction: 1 - opt / base, coverageCritical: 1, visibility: 0.9, agentCpuPercent: 0.4, agentRssBytes: 9e7, shadowCostPerHour: {}, extra: {},
    });
    const base = { kind: 'nrdot' as const, status: 'online' as const, customCapabilities: [NRDOT_CAPABILITY], version: '0.1.0', profile: 'balanced' };
    await store.upsertAgent('0190aaaa-0000-7000-8000-000000000001', { ...base, labels: { role: 'web' }, hostName: 'web-1', kpis: kpis(0.01, 0.001) }, now);
    await store.upsertAgent('0190bbbb-0000-7000-8000-000000000002', { ...base, labels: { role: 'db' }, hostName: 'db-1', kpis: kpis(0.03, 0.003) }, now);
  });
  after(async () => {
    await store.close();
    assert.equal(await hub.stop(), 0);
  });

  it('fleet status and fleet agents, human and --json', async () => {
    const status = await ctl(url, null, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.agents_total, 2);
    assert.equal(s.agents_online, 2);
    assert.equal(s.cost_per_hour_baseline, 0.04);
    assert.equal(s.cost_per_hour_optimized, 0.004);
    assert.equal(s.reduction, 0.9);
    assert.equal(s.coverage_critical_min, 1);
    assert.deepEqual(s.profiles, { balanced: 2 });
    const human = await ctl(url, null, ['status']);
    assert.match(human.stdout, /agents +2 \(2 online, 0 offline\)/);
    assert.match(human.stdout, /\$0\.0400 baseline, \$0\.0040 optimized \(reduction 90\.0%\)/);

    const agents = JSON.parse((await ctl(url, read, ['agents', '--json'])).stdout) as Array<Record<string, unknown>>;
    assert.equal(agents.length, 2);
    for (const a of agents) for (const key of ['instance_uid', 'labels', 'status', 'profile', 'config_status', 'kpis']) assert.ok(key in a, key);
    const db = await ctl(url, null, ['agents', '--selector', 'role=db']);
    assert.equal(db.code, 0, db.stderr);
    assert.match(db.stdout, /0190bbbb-0000-7000-8000-000000000002 +db-1 +online +balanced +NONE +role=db/);
    assert.ok(!db.stdout.includes('web-1'));
    const badSelector = await ctl(url, null, ['agents', '--selector', 'role in (db']);
    assert.equal(badSelector.code, 1);
    assert.match(badSelector.stderr, /selector "role in \(db": .* at character/);

    const one = await ctl(url, null, ['agent', '0190aaaa']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /instance uid +0190aaaa-0000-7000-8000-000000000001/);
    assert.match(one.stdout, /labels +role=web/);
    assert.equal(JSON.parse((await ctl(url, null, ['agent', '0190aaaa', '--json'])).stdout).host, 'web-1');
  });

  it('fleet config apply: refused with the hub\'s message, --dry-run shows the agents, then stored and pending', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'control_loop:\n  target_reductoin: 0.8\n');
    let r = await ctl(url, admin, ['config', 'apply', bad, '--name', 'db', '--selector', 'role=db']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^nrdot-plus-ctl: fleet config db:2: control_loop\.target_reductoin: unknown setting$/m);
    r = await ctl(url, admin, ['config', 'apply', join(dir, 'missing.yaml'), '--name', 'db', '--selector', 'role=db']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.yaml: no such file/);

    const good = join(dir, 'db.yaml');
    writeFileSync(good, 'control_loop:\n  target_reduction: 0.8\n');
    r = await ctl(url, admin, ['config', 'apply', good, '--name', 'db', '--selector', 'role=db', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would change 1 agent\(s\); nothing stored/);
    assert.match(r.stdout, /0190bbbb-0000-7000-8000-000000000002 +db-1 +role=db +db/);
    r = await ctl(url, admin, ['config', 'apply', good, '--name', 'db', '--selector', 'role=db', '--json']);
    assert.equal(JSON.parse(r.stdout).config.version, 1);
    const agents = JSON.parse((await ctl(url, null, ['agents', '--json'])).stdout) as Array<{ host: string; config_status: string; configs: Array<{ name: string }> }>;
    const dbAgent = agents.find((a) => a.host === 'db-1')!;
    assert.equal(dbAgent.config_status, 'PENDING');
    assert.deepEqual(dbAgent.configs.map((c) => c.name), ['db']);
    r = await ctl(url, null, ['config', 'show', 'db']);
    assert.match(r.stdout, /selector +role=db/);
    assert.match(r.stdout, /target_reduction: 0\.8/);
  });

  it('fleet profile set/unset and the journal; tokens: none 401, read 403, each naming NRDOT_HUB_TOKEN', async () => {
    let r = await ctl(url, null, ['profile', 'set', 'aggressive', '--selector', 'role=db']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NRDOT_HUB_TOKEN is not set/);
    r = await ctl(url, read, ['profile', 'set', 'aggressive', '--selector', 'role=db']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NRDOT_HUB_TOKEN holds the read token/);
    r = await ctl(url, admin, ['profile', 'set', 'aggressive', '--selector', 'role=db', '--for', '2h']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fleet pin aggressive on "role=db" until .*; it changes 1 agent\(s\)/);
    r = await ctl(url, admin, ['profile', 'unset', '--selector', 'role=db']);
    assert.equal(r.code, 0, r.stderr);
    const journal = JSON.parse((await ctl(url, null, ['journal', '--json'])).stdout) as Array<{ action: string; actor: string }>;
    assert.deepEqual(journal.map((e) => e.action).slice(-3), ['config.apply', 'profile.set', 'profile.unset']);
    assert.ok(journal.every((e) => e.actor === 'token:admin'));
    r = await ctl(url, null, ['journal', '--since', '1h']);
    assert.match(r.stdout, /token:admin +profile\.set +role=db +profile aggressive/);
    r = await ctl(url, admin, ['agent', 'forget', '0190aaaa']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse((await ctl(url, null, ['agents', '--json'])).stdout).length, 1);
  });

  it('exits 3 and says how to start a hub when none answers', async () => {
    const r = await ctl(`http://127.0.0.1:${await freePort()}`, null, ['status']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no hub answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); start one with `nrdot-plus-hub` \(or `npm run hub` in a checkout\)/);
  });
});

describe('nrdot-plus-hub with an OpAMP agent', () => {
  it('an agent that reports lists in fleet agents; a config applied with the ctl reaches it at its next poll and shows APPLIED once it says so', async () => {
    const dir = hubDataDir();
    const hub = HubProcess.start(dir);
    const url = await hub.url();
    const admin = await hub.waitFor(() => tokenFrom(hub.stdout, 'admin'), 5000, 'the admin token');
    const uid = uuidv7();
    const caps =
      AgentCapabilities.AgentCapabilities_ReportsStatus |
      AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig |
      AgentCapabilities.AgentCapabilities_ReportsRemoteConfig |
      AgentCapabilities.AgentCapabilities_ReportsHealth;
    let seq = 0;
    const poll = async (extra: Parameters<typeof message>[1] = {}, full = false) => {
      const spec = full
        ? { uid, seq: ++seq, capabilities: caps, identifying: { 'service.name': 'nrdot-plus', 'host.id': 'h-web' }, nonIdentifying: { 'host.name': 'web-1', 'service.version': '0.1.0', 'nrdot.fleet.labels.role': 'web' } }
        : { uid, seq: ++seq, capabilities: caps };
      const r = await post({ url }, message(spec, extra));
      assert.equal(r.status, 200, r.text);
      return r.reply!;
    };
    const applied = (hash: Uint8Array) => ({ remoteConfigStatus: create(RemoteConfigStatusSchema, { lastRemoteConfigHash: hash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED }) });
    const listed = async () => JSON.parse((await ctl(url, null, ['agents', '--json'])).stdout) as Array<{ instance_uid: string; labels: Record<string, string>; status: string; config_status: string; configs: Array<{ name: string }> }>;

    let reply = await poll({
      customCapabilities: create(CustomCapabilitiesSchema, { capabilities: [NRDOT_CAPABILITY] }),
      health: create(ComponentHealthSchema, { healthy: true, status: 'running', attributes: recordToAttributes({ 'nrdot.profile': 'balanced' }) }),
    }, true);
    assert.ok(reply.remoteConfig?.config?.configMap[DIRECTIVES_FILE], 'an NRDOT agent gets its directives');
    let agents = await listed();
    assert.deepEqual(agents.map((a) => [a.instance_uid, a.labels, a.status, a.config_status]), [[uidToString(uid), { role: 'web' }, 'online', 'NONE']]);
    await poll(applied(reply.remoteConfig!.configHash));
    assert.equal((await listed())[0]!.config_status, 'APPLIED');

    const fragment = join(dir, 'web.yaml');
    writeFileSync(fragment, 'control_loop:\n  target_reduction: 0.8\n');
    const r = await ctl(url, admin, ['config', 'apply', fragment, '--name', 'web', '--selector', 'role=web']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /it changes 1 agent\(s\)/);
    assert.equal((await listed())[0]!.config_status, 'PENDING');
    reply = await poll();
    assert.equal(Buffer.from(reply.remoteConfig!.config!.configMap['fleet/00-web.yaml']!.body).toString(), 'control_loop:\n  target_reduction: 0.8\n');
    await poll(applied(reply.remoteConfig!.configHash));
    agents = await listed();
    assert.equal(agents[0]!.config_status, 'APPLIED');
    assert.deepEqual(agents[0]!.configs.map((c) => c.name), ['web']);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^nrdot_hub_agents\{status="online"\} 1$/m);
    assert.match(metrics, /^nrdot_hub_opamp_requests_total\{transport="http",outcome="ok"\} 4$/m);
    assert.match(metrics, /^nrdot_hub_http_requests_total\{method="POST",route="\/v1\/opamp",status="200"\} 4$/m);
    assert.equal(await hub.stop(), 0);
  });
});

describe('the hub\'s systemd unit', () => {
  const missing = spawnSync('systemd-analyze', ['--version']).error ? 'systemd-analyze is not installed' : undefined;
  it('passes systemd-analyze verify with this node and this checkout in ExecStart=', { skip: missing }, () => {
    const unit = readFileSync(join(REPO, 'packaging/nrdot-plus-hub.service'), 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${HUB}`);
    const path = join(mkdtempSync(join(tmpdir(), 'nrdot-hub-unit-')), 'nrdot-plus-hub.service');
    writeFileSync(path, unit);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  });
});
