// The hub's API on the real SQLite store, through fastify's inject (the remote address and Host
// header are chosen per request, so loopback and beyond are both exercised).
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { NRDOT_CAPABILITY } from '../../fleet/directives.js';
import { defaultHubSettings } from '../config.js';
import type { HubContext } from '../context.js';
import { createHubServer } from '../server.js';
import { openHubStore } from '../store/index.js';
import type { AgentKpis, HubStore } from '../store/types.js';
import { ensureTokens, type CreatedTokens } from '../tokens.js';

const log = pino({ level: 'silent' });
const OUTSIDE = { remoteAddress: '10.1.2.3', headers: { host: 'hub.example.com:4320' } };

function kpis(base: number, optimized: number, coverage: number, profile: string): AgentKpis {
  return {
    timeMs: Date.now(),
    profile,
    costPerHourBaseline: base,
    costPerHourOptimized: optimized,
    datapointsBaseline: 1000,
    datapointsExported: 100,
    reduction: 1 - optimized / base,
    coverageCritical: coverage,
    visibility: 0.9,
    agentCpuPercent: 0.5,
    agentRssBytes: 80e6,
    shadowCostPerHour: {},
    extra: {},
  };
}

interface Setup {
  app: FastifyInstance;
  store: HubStore;
  tokens: CreatedTokens;
}

async function start(settings: Partial<HubContext['settings']> = {}): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hub-api-'));
  const store = await openHubStore({ database: null, dataDir }, log);
  const tokens = (await ensureTokens(store))!;
  const ctx: HubContext = { settings: { ...defaultHubSettings(), dataDir, ...settings }, store, log, replicaId: 'test', now: () => Date.now() };
  const app = await createHubServer(ctx);
  await app.ready();
  return { app, store, tokens };
}

/** Three NRDOT agents (web, db, db+canary) and one other OpAMP agent. */
async function seedAgents(store: HubStore): Promise<void> {
  const now = Date.now();
  const nrdot = { kind: 'nrdot' as const, status: 'online' as const, customCapabilities: [NRDOT_CAPABILITY], version: '0.1.0' };
  await store.upsertAgent('01900000-0000-7000-8000-000000000001', { ...nrdot, labels: { role: 'web', env: 'prod' }, hostName: 'web-1', profile: 'balanced', kpis: kpis(0.02, 0.002, 1, 'balanced') }, now);
  await store.upsertAgent('01900000-0000-7000-8000-000000000002', { ...nrdot, labels: { role: 'db', env: 'prod' }, hostName: 'db-1', profile: 'balanced', kpis: kpis(0.03, 0.006, 0.95, 'balanced') }, now);
  await store.upsertAgent('01900000-0000-7000-8000-000000000003', { ...nrdot, labels: { role: 'db', env: 'prod', canary: 'yes' }, hostName: 'db-2', profile: 'aggressive', version: '0.0.9' }, now);
  await store.upsertAgent('01900000-0000-7000-8000-000000000004', {
    kind: 'other',
    status: 'offline',
    offlineSinceMs: now - 60_000,
    labels: {},
    hostName: 'edot-1',
    description: { identifying: { 'service.name': 'edot' }, nonIdentifying: { 'host.name': 'edot-1' } },
  }, now);
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('hub API', () => {
  let s: Setup;
  before(async () => {
    s = await start();
    await seedAgents(s.store);
  });
  after(async () => {
    await s.app.close();
    await s.store.close();
  });

  it('reads need no token from loopback, the read token beyond it; a wrong token is 401', async () => {
    assert.equal((await s.app.inject({ url: '/api/v1/agents' })).statusCode, 200);
    const outside = await s.app.inject({ url: '/api/v1/agents', ...OUTSIDE });
    assert.equal(outside.statusCode, 401);
    assert.match(outside.json().error, /a token is needed beyond loopback/);
    assert.equal((await s.app.inject({ url: '/api/v1/agents', ...OUTSIDE, headers: { ...OUTSIDE.headers, ...bearer(s.tokens.read) } })).statusCode, 200);
    assert.equal((await s.app.inject({ url: '/api/v1/agents', ...OUTSIDE, headers: { ...OUTSIDE.headers, ...bearer(s.tokens.admin) } })).statusCode, 200);
    assert.equal((await s.app.inject({ url: '/api/v1/agents', headers: bearer('nrdh_admin_wrong') })).statusCode, 401);
    // From loopback but through a proxy, or with a foreign Host (DNS rebinding): not loopback.
    assert.equal((await s.app.inject({ url: '/api/v1/agents', headers: { 'x-forwarded-for': '10.9.9.9' } })).statusCode, 401);
    assert.equal((await s.app.inject({ url: '/api/v1/agents', headers: { host: 'evil.example.com' } })).statusCode, 401);
    // The OpenAPI document and /healthz are open.
    assert.equal((await s.app.inject({ url: '/api/v1/openapi.json', ...OUTSIDE })).statusCode, 200);
  });

  it('a change needs the admin token: none 401, read 403, admin 201 and journaled under its name', async () => {
    const body = { name: 'auth-check', selector: 'role=nothing', body: 'control_loop:\n  target_reduction: 0.8\n' };
    const none = await s.app.inject({ method: 'POST', url: '/api/v1/configs', payload: body });
    assert.equal(none.statusCode, 401);
    assert.match(none.json().error, /admin token/);
    const read = await s.app.inject({ method: 'POST', url: '/api/v1/configs', payload: body, headers: bearer(s.tokens.read) });
    assert.equal(read.statusCode, 403);
    assert.equal((await s.store.listConfigs()).length, 0);
    const admin = await s.app.inject({ method: 'POST', url: '/api/v1/configs', payload: body, headers: bearer(s.tokens.admin) });
    assert.equal(admin.statusCode, 201, admin.body);
    const journal = (await s.app.inject({ url: '/api/v1/journal' })).json();
    assert.deepEqual(journal.map((e: { action: string; actor: string; target: string }) => [e.action, e.actor, e.target]), [['config.apply', 'token:admin', 'auth-check']]);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/configs/auth-check', headers: bearer(s.tokens.admin) })).statusCode, 200);
  });

  it('refuses an invalid fragment, a forbidden key and a bad selector with a clear message, storing nothing', async () => {
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/api/v1/configs', payload, headers: bearer(s.tokens.admin) });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'web', selector: 'role=web', body: 'profiles:\n  balanced:\n    bogus: 1\n' }, /^fleet config web:3: profiles\.balanced\.bogus: unknown setting$/],
      [{ name: 'web', selector: 'role=web', body: 'control_loop:\n  target_reduction: 2\n' }, /^fleet config web:2: control_loop\.target_reduction: /],
      [{ name: 'web', selector: 'role=web', body: 'server:\n  listen: 0.0.0.0:8887\n' }, /^fleet config web:1: server: a fleet configuration may not set this/],
      [{ name: 'web', selector: 'role=web', body: 'exporters:\n  otlp:\n    endpoint: https://evil.example.com\n' }, /^fleet config web:3: exporters\.otlp\.endpoint: .*NRDOT_HUB_ALLOW_EXPORTERS=true/],
      [{ name: 'web', selector: 'role in (web', body: 'control_loop: {}\n' }, /^selector "role in \(web": .* at character \d+$/],
      [{ name: 'Web Config', selector: 'role=web', body: 'control_loop: {}\n' }, /^name: "Web Config" must be/],
      [{ name: 'web', selector: 'role=web', body: 'a: [\n' }, /^fleet config web:\d+: YAML syntax error/],
      [{ name: 'web', selector: 'role=web', body: 'control_loop: {}\n', colour: 'blue' }, /must NOT have additional properties/],
    ];
    for (const [payload, message] of cases) {
      const r = await post(payload);
      assert.equal(r.statusCode, 400, `${JSON.stringify(payload)}: ${r.body}`);
      assert.match(r.json().error, message);
    }
    assert.deepEqual(await s.store.listConfigs(), []);
    assert.deepEqual((await s.store.listJournal({})).filter((e) => e.target === 'web'), []);
    // An opaque configuration is not read: anything goes, for other OpAMP agents.
    const opaque = await post({ name: 'edot', selector: 'service.name=edot', opaque: true, body: '{"not": "yaml of ours"}', content_type: 'application/json' });
    assert.equal(opaque.statusCode, 201, opaque.body);
    assert.equal(opaque.json().config.agents, 1, 'the selector finds the other agent by its identifying attributes');
    await post({ name: 'edot', selector: '', body: '' }).then((r) => assert.equal(r.statusCode, 201));
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/configs/edot', headers: bearer(s.tokens.admin) })).statusCode, 200);
  });

  it('dry-run lists exactly the agents a change reaches and what changes, and stores nothing', async () => {
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/api/v1/configs', payload, headers: bearer(s.tokens.admin) });
    const fragment = 'control_loop:\n  target_reduction: 0.8\n';
    let r = await post({ name: 'db', selector: 'role=db,!canary', body: fragment, dry_run: true });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json().agents.map((a: { host: string; configs_added: string[] }) => [a.host, a.configs_added]), [['db-1', ['db']]]);
    assert.equal((await s.store.getConfig('db')), null);
    r = await post({ name: 'db', selector: 'role=db', body: fragment });
    assert.equal(r.statusCode, 201);
    assert.equal(r.json().reached, 2);
    // Changing the body reaches both db agents as a change; narrowing the selector removes it from one.
    r = await post({ name: 'db', selector: 'role=db', body: 'control_loop:\n  target_reduction: 0.9\n', dry_run: true });
    assert.deepEqual(r.json().agents.map((a: { host: string; configs_changed: string[] }) => [a.host, a.configs_changed]).sort(), [['db-1', ['db']], ['db-2', ['db']]]);
    r = await post({ name: 'db', selector: 'role=db,!canary', body: fragment, dry_run: true });
    assert.deepEqual(r.json().agents.map((a: { host: string; configs_removed: string[] }) => [a.host, a.configs_removed]), [['db-2', ['db']]]);
    assert.equal((await s.store.getConfig('db'))!.version, 1, 'dry runs stored nothing');
    // A fleet pin's dry run.
    r = await s.app.inject({ method: 'POST', url: '/api/v1/pins', payload: { profile: 'aggressive', selector: 'role=web', dry_run: true }, headers: bearer(s.tokens.admin) });
    assert.deepEqual(r.json().agents.map((a: { host: string; pin_before: null; pin_after: string }) => [a.host, a.pin_before, a.pin_after]), [['web-1', null, 'aggressive']]);
    assert.deepEqual(await s.store.listPins(), []);
    assert.equal((await s.app.inject({ method: 'DELETE', url: '/api/v1/configs/db', headers: bearer(s.tokens.admin) })).statusCode, 200);
  });

  it('fleet pins: a known profile only, --for sets an expiry, unset removes exactly that selector; both journaled', async () => {
    const set = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/api/v1/pins', payload, headers: bearer(s.tokens.admin) });
    let r = await set({ profile: 'aggresive', selector: 'role=db' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /no profile named "aggresive" \(did you mean "aggressive"\?/);
    r = await set({ profile: 'aggressive', selector: 'role=db', for: 'soon' });
    assert.match(r.json().error, /^for: "soon" is not a duration/);
    const before = Math.floor(Date.now() / 1000);
    r = await set({ profile: 'aggressive', selector: 'role=db', for: '2h' });
    assert.equal(r.statusCode, 201, r.body);
    const until = Date.parse(r.json().pin.until) / 1000;
    assert.ok(until >= before + 7200 && until <= before + 7202, `until ${until}`);
    const agents = (await s.app.inject({ url: '/api/v1/agents?selector=role%3Ddb' })).json();
    assert.deepEqual(agents.map((a: { fleet_pin: { profile: string } }) => a.fleet_pin?.profile), ['aggressive', 'aggressive']);
    r = await s.app.inject({ method: 'DELETE', url: '/api/v1/pins?selector=role%3Dweb', headers: bearer(s.tokens.admin) });
    assert.equal(r.statusCode, 404);
    assert.match(r.json().error, /no fleet pin with selector "role=web" \(pins: "role=db"\)/);
    r = await s.app.inject({ method: 'DELETE', url: '/api/v1/pins?selector=role%3Ddb', headers: bearer(s.tokens.admin) });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().reached, 2);
    assert.deepEqual(await s.store.listPins(), []);
    const actions = (await s.store.listJournal({})).map((e) => e.action);
    assert.ok(actions.includes('profile.set') && actions.includes('profile.unset'), actions.join(','));
  });

  it('lists agents with their status, configuration status, KPIs and warnings; sums the fleet in status', async () => {
    const agents = (await s.app.inject({ url: '/api/v1/agents' })).json() as Array<Record<string, unknown>>;
    assert.equal(agents.length, 4);
    for (const a of agents) for (const key of ['instance_uid', 'labels', 'status', 'profile', 'config_status', 'kpis']) assert.ok(key in a, key);
    const old = agents.find((a) => a.host === 'db-2')!;
    assert.match((old.warnings as string[])[0]!, /version 0\.0\.9 is older than this hub supports/);
    assert.equal((agents.find((a) => a.host === 'web-1')!.kpis as { cost_per_hour_baseline: number }).cost_per_hour_baseline, 0.02);
    const status = (await s.app.inject({ url: '/api/v1/status' })).json();
    assert.equal(status.agents_total, 4);
    assert.equal(status.agents_online, 3);
    assert.equal(status.cost_per_hour_baseline, 0.05);
    assert.equal(status.cost_per_hour_optimized, 0.008);
    assert.equal(status.reduction, 0.84);
    assert.equal(status.coverage_critical_min, 0.95);
    assert.deepEqual(status.profiles, { balanced: 2, aggressive: 1 });
    const one = (await s.app.inject({ url: '/api/v1/agents/01900000-0000-7000-8000-000000000004' })).json();
    assert.equal(one.kind, 'other');
    assert.deepEqual(one.description.identifying, { 'service.name': 'edot' });
    assert.equal((await s.app.inject({ url: '/api/v1/agents/nope-nope' })).statusCode, 404);
    // A start of the UID shared by all is ambiguous; a selector that does not parse is refused.
    assert.equal((await s.app.inject({ url: '/api/v1/agents/01900000' })).statusCode, 400);
    assert.equal((await s.app.inject({ url: '/api/v1/agents?selector=role%20in' })).statusCode, 400);
  });

  it('the request channel: 404 for an unknown agent, 409 without io.nrdot.plus/v1, else a pending request', async () => {
    const ask = (id: string) => s.app.inject({ method: 'POST', url: `/api/v1/agents/${id}/requests`, payload: { type: 'top', body: { limit: 5 } } });
    assert.equal((await ask('01900000-0000-7000-8000-00000000ffff')).statusCode, 404);
    const other = await ask('01900000-0000-7000-8000-000000000004');
    assert.equal(other.statusCode, 409);
    assert.match(other.json().error, /does not offer io\.nrdot\.plus\/v1/);
    const ok = await ask('01900000-0000-7000-8000-000000000001');
    assert.equal(ok.statusCode, 202, ok.body);
    const state = (await s.app.inject({ url: `/api/v1/requests/${ok.json().id}` })).json();
    assert.equal(state.state, 'pending');
    assert.equal(state.type, 'top');
  });

  it('describes every route in OpenAPI 3; serves /healthz and /metrics', async () => {
    const doc = (await s.app.inject({ url: '/api/v1/openapi.json' })).json();
    assert.match(doc.openapi, /^3\./);
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const r of [
      'GET /api/v1/status',
      'GET /api/v1/agents',
      'GET /api/v1/agents/{id}',
      'DELETE /api/v1/agents/{id}',
      'GET /api/v1/agents/{id}/kpis',
      'POST /api/v1/agents/{id}/requests',
      'GET /api/v1/requests/{id}',
      'GET /api/v1/configs',
      'POST /api/v1/configs',
      'GET /api/v1/configs/{name}',
      'DELETE /api/v1/configs/{name}',
      'GET /api/v1/pins',
      'POST /api/v1/pins',
      'DELETE /api/v1/pins',
      'GET /api/v1/journal',
      'GET /api/v1/kpis',
      'GET /healthz',
    ]) {
      assert.ok(routes.includes(r), `${r} in ${routes.join(', ')}`);
    }
    const post = doc.paths['/api/v1/configs'].post;
    assert.deepEqual(post.requestBody.content['application/json'].schema.required, ['name', 'selector', 'body']);
    assert.equal((await s.app.inject({ url: '/healthz' })).json().status, 'ok');
    const metrics = (await s.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^nrdot_hub_agents\{status="online"\} 3$/m);
    assert.match(metrics, /^nrdot_hub_agents\{status="offline"\} 1$/m);
    assert.match(metrics, /^nrdot_hub_http_requests_total\{method="GET",route="\/api\/v1\/openapi.json",status="200"\} \d+$/m);
    assert.match(metrics, /^nrdot_hub_memory_rss_bytes \d+$/m);
  });

  it('/healthz is 503 when the database does not answer', async () => {
    const t = await start();
    await t.store.close();
    const r = await t.app.inject({ url: '/healthz' });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().status, 'unavailable');
    await t.app.close();
  });

  it('allows exporter settings when the hub is configured to', async () => {
    const t = await start({ allowExporters: true });
    const r = await t.app.inject({ method: 'POST', url: '/api/v1/configs', headers: bearer(t.tokens.admin), payload: { name: 'export', selector: '', body: 'exporters:\n  otlp:\n    endpoint: https://otlp.example.com\n' } });
    assert.equal(r.statusCode, 201, r.body);
    const fleet = await t.app.inject({ method: 'POST', url: '/api/v1/configs', headers: bearer(t.tokens.admin), payload: { name: 'fleet', selector: '', body: 'fleet:\n  endpoint: x\n' } });
    assert.equal(fleet.statusCode, 400, 'fleet.* stays forbidden');
    await t.app.close();
    await t.store.close();
  });
});
