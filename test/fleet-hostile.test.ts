/**
 * Hostile input against a running hub (issue 13, "Tests"): a malformed protobuf body, an oversized
 * body (plain and a gzip bomb), a wrong enrollment secret (from a raw request and from a real agent), a
 * selector that does not parse, a fleet config that fails validation or sets a key a hub may not set.
 * Each gets a clear error (status or exit code, and a message naming the problem); the hub keeps
 * serving (a real agent connected throughout stays online and still takes changes) and nothing it
 * stored is lost (configs, pins and journal as they were).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { AgentToServerSchema, create, decodeServerToAgent, encodeAgentToServer, OPAMP_CONTENT_TYPE } from '../src/fleet/codec.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { ADMIN_TOKEN, FleetAgent, FleetHub, tempDir, until, type AgentView, type JournalView } from './fleet-harness.js';

const SECRET = 'e2e-enrollment-secret-0123456789abcdef';

function file(name: string, text: string): string {
  const path = join(tempDir('hostile'), name);
  writeFileSync(path, text);
  return path;
}

interface Answer {
  status: number;
  body: Buffer;
}

/**
 * POST with node:http. A hub refuses a body over its limit from the Content-Length (413) and closes
 * the connection, which a client still uploading sees as EPIPE (fetch reports nothing else): a large
 * body is held back for a second after the headers, so that the answer is what the test reads.
 */
function post(url: string, headers: Record<string, string>, body: Buffer | Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      answered = true;
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const big = body.length > 1024 * 1024;
    if (big) req.flushHeaders();
    else req.end(body);
    const timer = big ? setTimeout(() => req.end(body), 1000) : undefined;
  });
}

interface Stored {
  configs: unknown;
  shown: unknown;
  pins: unknown;
  journal: JournalView[];
}

describe('hostile input against a running hub', () => {
  it('refuses each with a clear error, keeps serving its agent, and loses nothing', async () => {
    const hub = await FleetHub.start({ env: { NRDOT_HUB_AGENT_SECRET: SECRET } });
    const agent = await FleetAgent.start({ endpoint: hub.opamp, labels: 'role=db,env=e2e', env: { NRDOT_OPAMP_HEADERS: `authorization=Bearer ${SECRET}` } });
    const uid = (await until('the agent connected', () => agent.status(), (s) => s.fleet.connected)).fleet.instance_uid;
    // Something stored to lose: a config and a pin, in force on the agent.
    const good = await hub.ctl(['config', 'apply', file('good.yaml', 'control_loop:\n  target_reduction: 0.6\n'), '--name', 'good', '--selector', 'env=e2e']);
    assert.equal(good.code, 0, good.stderr);
    const pin = await hub.ctl(['profile', 'set', 'conservative', '--selector', 'role=db']);
    assert.equal(pin.code, 0, pin.stderr);
    await until('the config and pin in force', () => agent.status(), (s) => s.fleet.remote_config.status === 'APPLIED' && s.profile.source === 'fleet pin');
    const pins = async (): Promise<unknown> => (await fetch(`${hub.url}/api/v1/pins`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    const stored = async (): Promise<Stored> => ({
      configs: await hub.json(['config', 'list']),
      shown: await hub.json(['config', 'show', 'good']),
      pins: await pins(),
      journal: await hub.json<JournalView[]>(['journal']),
    });
    const before = await stored();
    assert.equal(before.journal.length, 2);
    assert.equal((before.pins as unknown[]).length, 1);

    const opamp = (body: Uint8Array | Buffer, headers: Record<string, string> = {}): Promise<Answer> =>
      post(hub.opamp, { 'content-type': OPAMP_CONTENT_TYPE, authorization: `Bearer ${SECRET}`, ...headers }, body);
    const otlp = (body: Uint8Array | Buffer, headers: Record<string, string> = {}): Promise<Answer> =>
      post(`${hub.url}/v1/metrics`, { 'content-type': 'application/x-protobuf', authorization: `Bearer ${SECRET}`, ...headers }, body);
    const hello = encodeAgentToServer(create(AgentToServerSchema, { instanceUid: uuidv7(), sequenceNum: 0n }));

    // A malformed protobuf body: 400, and an OpAMP error response saying so.
    const garbage = await opamp(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    assert.equal(garbage.status, 400);
    const answer = decodeServerToAgent(new Uint8Array(garbage.body));
    assert.match(answer.errorResponse?.errorMessage ?? '', /malformed AgentToServer/);

    // Oversized: a body over the limit, and a small gzip body that expands over it.
    const huge = await opamp(Buffer.alloc(5 * 1024 * 1024, 1));
    assert.equal(huge.status, 413);
    assert.match(huge.body.toString(), /larger than \d+ bytes/);
    const bomb = await opamp(gzipSync(Buffer.alloc(64 * 1024 * 1024)), { 'content-encoding': 'gzip' });
    assert.equal(bomb.status, 413);
    assert.match(bomb.body.toString(), /larger than \d+ bytes once decompressed/);
    const otlpBomb = await otlp(gzipSync(Buffer.alloc(64 * 1024 * 1024)), { 'content-encoding': 'gzip' });
    assert.equal(otlpBomb.status, 413);
    assert.match(otlpBomb.body.toString(), /larger than \d+ bytes/);
    const otlpGarbage = await otlp(Buffer.from([0xff, 0xff, 0xff]));
    assert.equal(otlpGarbage.status, 400);
    assert.match(otlpGarbage.body.toString(), /malformed ExportMetricsServiceRequest/);

    // A wrong enrollment secret: 401 naming the secret, from a raw request and from a real agent.
    for (const authorization of [`Bearer not-${SECRET}`, '']) {
      const refused = await post(hub.opamp, { 'content-type': OPAMP_CONTENT_TYPE, ...(authorization ? { authorization } : {}) }, hello);
      assert.equal(refused.status, 401);
      assert.match(refused.body.toString(), /enrollment secret/);
      const metrics = await otlp(Buffer.alloc(0), { authorization });
      assert.equal(metrics.status, 401);
    }
    const intruder = await FleetAgent.start({ endpoint: hub.opamp, labels: 'role=intruder', env: { NRDOT_OPAMP_HEADERS: 'authorization=Bearer guessed' } });
    const shut = await until('the intruder refused', () => intruder.status(), (s) => s.fleet.last_error !== null);
    assert.equal(shut.fleet.connected, false);
    assert.match(shut.fleet.last_error!, /401/);
    await intruder.stop();

    // Commands: each exits 1 with a message naming what is wrong, and no stack trace.
    const refusals: Array<[string[], RegExp]> = [
      [['profile', 'set', 'aggressive', '--selector', 'role in (db'], /selector "role in \(db": expected "," or "\)" .* at character 12/],
      [['profile', 'set', 'x', '--selector', 'role in (db'], /selector "role in \(db": .* at character 12/],
      [['agents', '--selector', 'role in (db'], /selector "role in \(db": .* at character 12/],
      [['config', 'apply', file('invalid.yaml', 'control_loop:\n  target_reduction: 2\n'), '--name', 'invalid', '--selector', 'env=e2e'], /fleet config invalid:2: control_loop\.target_reduction: /],
      [['config', 'apply', file('syntax.yaml', 'control_loop: [\n'), '--name', 'syntax', '--selector', 'env=e2e'], /fleet config syntax:2: YAML syntax error/],
      [['config', 'apply', file('fleet.yaml', 'fleet:\n  endpoint: http://elsewhere.example:4320/v1/opamp\n'), '--name', 'hijack', '--selector', 'env=e2e'], /fleet config hijack:1: fleet: a fleet configuration may not set this/],
      [['config', 'apply', file('exporter.yaml', 'exporters:\n  otlp:\n    endpoint: http://elsewhere.example:4318\n'), '--name', 'exfiltrate', '--selector', 'env=e2e'], /fleet config exfiltrate:3: exporters\.otlp\.endpoint: a fleet configuration may not set this/],
      [['config', 'apply', file('good2.yaml', 'control_loop:\n  target_reduction: 0.7\n'), '--name', 'Bad Name!', '--selector', 'env=e2e'], /name/i],
      [['profile', 'set', 'no-such-profile', '--selector', 'role=db'], /no-such-profile/],
    ];
    for (const [args, message] of refusals) {
      const r = await hub.ctl(args);
      assert.equal(r.code, 1, `fleet ${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, `fleet ${args.join(' ')}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `fleet ${args.join(' ')}: a stack trace`);
    }

    // The hub kept serving: healthy, its agent online and reporting, nothing stored lost.
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    assert.ok(hub.running);
    const seq = (await hub.json<{ sequence_num: number }>(['agent', uid])).sequence_num;
    const listed = await until('the agent still reporting', () => hub.json<AgentView & { sequence_num: number }>(['agent', uid]), (a) => a.status === 'online' && a.sequence_num > seq);
    assert.equal(listed.config_status, 'APPLIED');
    assert.deepEqual((await hub.agents()).map((a) => a.instance_uid), [uid], 'the intruder and the raw requests registered nothing');
    assert.deepEqual(await stored(), before);
    const s = await agent.status();
    assert.deepEqual([s.profile.name, s.profile.source], ['conservative', 'fleet pin']);
    assert.equal((await agent.config()).control_loop.target_reduction, 0.6);
    // And it still takes changes.
    const unset = await hub.ctl(['profile', 'unset', '--selector', 'role=db']);
    assert.equal(unset.code, 0, unset.stderr);
    await until('the pin removed', () => agent.status(), (x) => x.profile.source !== 'fleet pin');
  });
});
