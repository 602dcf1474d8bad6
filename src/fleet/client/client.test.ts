/**
 * The OpAMP client against small real servers on loopback (HTTP and WebSocket), written here so
 * that each test can answer as a hub would, or as a broken one does.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { WebSocketServer } from 'ws';
import {
  create,
  decodeAgentToServer,
  encodeServerToAgent,
  frameWebSocket,
  unframeWebSocket,
  AgentCapabilities,
  RemoteConfigStatuses,
  ServerErrorResponseType,
  ServerToAgentFlags,
  ServerToAgentSchema,
  type AgentRemoteConfig,
  type AgentToServer,
  type ServerToAgent,
  uidToString,
} from '../codec.js';
import { uuidv7 } from '../uuid.js';
import { OpampClient } from './client.js';
import type { ClientHooks, ClientOptions, CustomMessageIn, TelemetryOffer } from './types.js';

type Answer = ServerToAgent | { status: number; body?: Buffer; headers?: Record<string, string> } | Buffer | 'hang';

interface Seen {
  msg: AgentToServer;
  at: number;
  headers: IncomingHttpHeaders;
  wireBytes: number;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

async function opampServer(answer: (msg: AgentToServer, n: number) => Answer): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const msg = decodeAgentToServer(req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire);
      seen.push({ msg, at: performance.now(), headers: req.headers, wireBytes: wire.length });
      const a = answer(msg, seen.length);
      if (a === 'hang') return; // never answers
      if (Buffer.isBuffer(a)) {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(a);
      } else if ('status' in a && typeof a.status === 'number') {
        res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(encodeServerToAgent(a as ServerToAgent)));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/opamp`, seen, server };
}

const echo = (msg: AgentToServer, extra: MessageInitShape<typeof ServerToAgentSchema> = {}): ServerToAgent => create(ServerToAgentSchema, { ...extra, instanceUid: msg.instanceUid });

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

interface Recorded {
  configs: AgentRemoteConfig[];
  uids: Uint8Array[];
  offers: Array<TelemetryOffer | null>;
  custom: CustomMessageIn[];
}

function client(url: string, over: Partial<ClientOptions> = {}, hooks: Partial<ClientHooks> = {}): { c: OpampClient; r: Recorded } {
  const r: Recorded = { configs: [], uids: [], offers: [], custom: [] };
  const c = new OpampClient({
    endpoint: url,
    headers: { authorization: 'Bearer test-secret' },
    tls: {},
    instanceUid: uuidv7(),
    capabilities: BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus | AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig),
    customCapabilities: ['io.nrdot.plus/v1'],
    log: quiet,
    heartbeatSeconds: 0.2,
    backoffInitialMs: 50,
    backoffMaxMs: 400,
    requestTimeoutMs: 2000,
    random: () => 0.5,
    ...over,
    hooks: {
      onRemoteConfig: (rc) => r.configs.push(rc),
      onNewInstanceUid: (uid) => r.uids.push(uid),
      onOwnMetrics: (o) => r.offers.push(o),
      onCustomMessage: (m) => r.custom.push(m),
      ...hooks,
    },
  });
  c.setDescription({ 'service.name': 'nrdot-plus' }, { 'host.name': 'test' });
  return { c, r };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('OpAMP client over HTTP', () => {
  it('sends the full state first, then only what changed; ReportFullState brings it all again', async () => {
    let askFull = false;
    const { url, seen } = await opampServer((msg) => echo(msg, askFull ? { flags: BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState) } : {}));
    const { c } = client(url);
    c.setHealth({ healthy: true, status: 'profile balanced', attributes: { 'nrdot.profile': 'balanced' } });
    c.setEffectiveConfig({ 'optimization.yaml': 'x: 1\n'.repeat(2000) });
    c.start();
    await until('3 messages', () => seen.length >= 3);
    assert.equal(seen[0]!.headers['opamp-instance-uid'], uidToString(c.instanceUid), 'OpAMP-Instance-UID, for load balancers');
    assert.equal(seen[0]!.headers['content-type'], 'application/x-protobuf');
    assert.equal(seen[0]!.headers.authorization, 'Bearer test-secret');
    assert.equal(seen[0]!.headers['content-encoding'], 'gzip', 'a full state this large goes gzipped');
    assert.ok(seen[0]!.wireBytes < 2000);
    assert.equal(seen[1]!.headers['content-encoding'], undefined, 'a heartbeat is small enough as it is');
    const [first, second] = seen.map((s) => s.msg);
    assert.equal(first!.sequenceNum, 1n);
    assert.ok(first!.agentDescription && first!.health && first!.customCapabilities, 'the first message carries the full state');
    assert.deepEqual(first!.customCapabilities!.capabilities, ['io.nrdot.plus/v1']);
    assert.equal(second!.sequenceNum, 2n);
    assert.equal(second!.agentDescription, undefined, 'a heartbeat carries no unchanged description');
    assert.equal(second!.health, undefined);
    c.setHealth({ healthy: true, status: 'profile minimal' });
    const n = seen.length;
    await until('the health change', () => seen.slice(n).some((s) => s.msg.health?.status === 'profile minimal'));
    askFull = true;
    const m = seen.length;
    await until('full state after ReportFullState', () => seen.slice(m + 1).some((s) => s.msg.agentDescription !== undefined && s.msg.health !== undefined));
    askFull = false;
    await c.stop();
    assert.ok(seen.at(-1)!.msg.agentDisconnect, 'stop() says goodbye with AgentDisconnect');
  });

  it('does not spin on a server that asks for the full state in every answer', async () => {
    const { url, seen } = await opampServer((msg) => echo(msg, { flags: BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState) }));
    const { c } = client(url, { heartbeatSeconds: 0.5 });
    c.start();
    await new Promise((r) => setTimeout(r, 1000));
    await c.stop();
    // At most 5 messages a heartbeat (one, then 4 at once), not one per round trip.
    assert.ok(seen.length <= 16, `${seen.length} messages in 1 s`);
    assert.ok(seen.every((s) => s.msg.agentDescription || s.msg.agentDisconnect), 'each one carries the full state asked for');
  });

  it('drops a reply for another instance_uid, and adopts a new_instance_uid the server gives', async () => {
    const other = uuidv7();
    const fresh = uuidv7();
    let mode: 'wrong' | 'newuid' | 'ok' = 'wrong';
    const { url, seen } = await opampServer((msg) => {
      if (mode === 'wrong') return create(ServerToAgentSchema, { instanceUid: other, remoteConfig: { config: { configMap: {} }, configHash: new Uint8Array([1]) } });
      if (mode === 'newuid') {
        mode = 'ok';
        return echo(msg, { agentIdentification: { newInstanceUid: fresh } });
      }
      return echo(msg);
    });
    const { c, r } = client(url);
    const original = c.instanceUid;
    c.start();
    await until('a dropped reply', () => c.droppedReplies >= 1);
    assert.equal(r.configs.length, 0, 'nothing in a reply for another agent is applied');
    assert.equal(c.state.connected, false);
    assert.match(c.state.lastError!, /another instance_uid/);
    mode = 'newuid';
    await until('the new UID', () => r.uids.length === 1);
    assert.deepEqual([...r.uids[0]!], [...fresh]);
    const withNew = (): Seen | undefined => seen.find((s) => Buffer.from(s.msg.instanceUid).equals(Buffer.from(fresh)));
    await until('a message with the new UID', () => withNew() !== undefined);
    const next = withNew()!.msg;
    assert.deepEqual([...next.instanceUid], [...fresh]);
    assert.notDeepEqual([...next.instanceUid], [...original]);
    assert.ok(next.agentDescription, 'the full state goes again under the new UID');
    await c.stop();
  });

  it('backs off exponentially with jitter on garbage, 5xx and refused connections, capped, and recovers', async () => {
    let mode: 'garbage' | '500' | 'ok' = 'garbage';
    const { url, seen } = await opampServer((msg) => (mode === 'garbage' ? Buffer.from('<html>not protobuf at all</html>\xff\xff\xff') : mode === '500' ? { status: 500, body: Buffer.from('oops') } : echo(msg)));
    const { c } = client(url, { backoffInitialMs: 40, backoffMaxMs: 320 });
    c.start();
    await until('6 failed attempts', () => seen.length >= 6);
    const gaps = seen.slice(1, 6).map((s, i) => s.at - seen[i]!.at);
    // random 0.5 -> each wait is 0.75 x min(cap, 40 * 2^(n-1)): 30, 60, 120, 240, 240 ms.
    const expected = [30, 60, 120, 240, 240];
    gaps.forEach((g, i) => assert.ok(g >= expected[i]! - 5 && g < expected[i]! + 150, `gap ${i}: ${g.toFixed(0)} ms, expected about ${expected[i]}`));
    assert.equal(c.state.connected, false);
    assert.ok(c.state.failures >= 5);
    assert.match(c.state.lastError!, /not an OpAMP ServerToAgent/);
    mode = '500';
    const n = seen.length;
    await until('a 500', () => seen.length > n + 1);
    assert.match(c.state.lastError!, /HTTP 500/);
    mode = 'ok';
    await until('connected again', () => c.state.connected);
    assert.equal(c.state.failures, 0);
    await c.stop();
  });

  it('keeps retrying a refused connection with backoff, without busy looping', async () => {
    const { url, server } = await opampServer((msg) => echo(msg));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { c } = client(url, { backoffInitialMs: 50, backoffMaxMs: 200 });
    c.start();
    await new Promise((r) => setTimeout(r, 700));
    assert.match(c.state.lastError!, /connection refused/);
    // 37.5 + 75 + 150 + 150 ... ms: at most a handful in 700 ms.
    assert.ok(c.state.failures >= 3 && c.state.failures <= 8, `failures ${c.state.failures}`);
    await c.stop();
  });

  it('waits as long as error_response UNAVAILABLE retry_info or a 503 Retry-After asks', async () => {
    let n = 0;
    const { url, seen } = await opampServer((msg) => {
      n++;
      if (n === 1) return echo(msg, { errorResponse: { type: ServerErrorResponseType.ServerErrorResponseType_Unavailable, errorMessage: 'starting', Details: { case: 'retryInfo', value: { retryAfterNanoseconds: 600_000_000n } } } });
      if (n === 2) return { status: 503, headers: { 'retry-after': '1' } };
      return echo(msg);
    });
    const { c } = client(url, { backoffInitialMs: 10, backoffMaxMs: 10 });
    c.start();
    await until('3 messages', () => seen.length >= 3, 5000);
    const first = seen[1]!.at - seen[0]!.at;
    const second = seen[2]!.at - seen[1]!.at;
    assert.ok(first >= 590 && first < 900, `retry_info 600 ms: waited ${first.toFixed(0)} ms`);
    assert.ok(second >= 990 && second < 1400, `Retry-After 1 s: waited ${second.toFixed(0)} ms`);
    await until('connected', () => c.state.connected);
    await c.stop();
  });

  it('reads at most maxResponseBytes of an answer, after gunzip too; a gzipped answer is taken', async () => {
    let mode: 'big' | 'bomb' | 'gzip' = 'big';
    const { url, server } = await opampServer((msg) => (mode === 'gzip' ? Buffer.alloc(0) : echo(msg)));
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const msg = decodeAgentToServer(req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks));
        if (mode === 'big') res.writeHead(200).end(Buffer.alloc(100_000));
        else if (mode === 'bomb') res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(1_000_000)));
        else res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(encodeServerToAgent(echo(msg))));
      });
    });
    const { c } = client(url, { maxResponseBytes: 50_000, backoffInitialMs: 20, backoffMaxMs: 40 });
    c.start();
    await until('the oversized answer refused', () => /answer larger than 50000 bytes/.test(c.state.lastError ?? ''));
    mode = 'bomb';
    await until('the gzip bomb refused', () => /not gunzipped/.test(c.state.lastError ?? ''));
    mode = 'gzip';
    await until('a gzipped answer taken', () => c.state.connected);
    await c.stop();
  });

  it('a slow server times out without holding up anything else (the event loop stays free)', async () => {
    const { url, seen } = await opampServer(() => 'hang');
    const { c } = client(url, { requestTimeoutMs: 300, backoffInitialMs: 50, backoffMaxMs: 100 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const started = performance.now();
    c.start();
    await until('a timeout', () => c.state.lastError !== null, 2000);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    assert.match(c.state.lastError!, /no answer within 0.3 s/);
    assert.ok(elapsed < 900, `timed out after ${elapsed.toFixed(0)} ms`);
    assert.ok(ticks >= Math.floor(elapsed / 20) - 4, `the event loop ran ${ticks} ticks in ${elapsed.toFixed(0)} ms`);
    assert.equal(seen.length, 1, 'one request in flight at a time');
    await c.stop();
  });

  it('answers a custom message at once, remote config status too, not after a heartbeat; own metrics offers reach the hook', async () => {
    let n = 0;
    const { url, seen } = await opampServer((msg) => {
      n++;
      if (n === 2) {
        return echo(msg, {
          customMessage: { capability: 'io.nrdot.plus/v1', type: 'request', data: Buffer.from('{"id":"1","type":"top"}') },
          remoteConfig: { config: { configMap: { 'fleet/00-a.yaml': { body: Buffer.from('a: 1'), contentType: 'text/yaml' } } }, configHash: new Uint8Array([7]) },
          connectionSettings: { ownMetrics: { destinationEndpoint: 'http://127.0.0.1:9/v1/metrics' }, opamp: { heartbeatIntervalSeconds: 5n } },
        });
      }
      return echo(msg);
    });
    const c: OpampClient = client(url, { heartbeatSeconds: 0.3 }, {
      onCustomMessage: (m) => c.sendCustomMessage(m.capability, 'response', Buffer.from(`{"id":"1","ok":true,"result":${JSON.stringify(Buffer.from(m.data).toString())}}`)),
      onRemoteConfig: (rc) => c.setRemoteConfigStatus(rc.configHash, RemoteConfigStatuses.RemoteConfigStatuses_APPLIED),
      onOwnMetrics: (o) => offers.push(o),
    }).c;
    const offers: Array<TelemetryOffer | null> = [];
    c.start();
    await until('the answer', () => seen.some((s) => s.msg.customMessage !== undefined));
    const i = seen.findIndex((s) => s.msg.customMessage !== undefined);
    assert.ok(seen[i]!.at - seen[i - 1]!.at < 150, `answered ${(seen[i]!.at - seen[i - 1]!.at).toFixed(0)} ms after the request (the heartbeat is 300 ms)`);
    assert.equal(seen[i]!.msg.customMessage!.type, 'response');
    assert.equal(seen[i]!.msg.remoteConfigStatus?.status, RemoteConfigStatuses.RemoteConfigStatuses_APPLIED);
    assert.deepEqual(offers, [{ endpoint: 'http://127.0.0.1:9/v1/metrics', headers: {} }]);
    assert.equal(c.state.heartbeatSeconds, 5, 'the offered heartbeat is the poll interval');
    await c.stop();
  });
});

describe('OpAMP client over WebSocket', () => {
  it('connects, sends the full state, takes a pushed remote config and reports its status; reconnects after the server drops it', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const seen: AgentToServer[] = [];
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.on('message', (data: Buffer) => {
        const msg = decodeAgentToServer(unframeWebSocket(new Uint8Array(data)));
        seen.push(msg);
        ws.send(frameWebSocket(encodeServerToAgent(echo(msg))));
        if (seen.length === 1) {
          // A push, not an answer: the hub sends a config as soon as it has one.
          ws.send(frameWebSocket(encodeServerToAgent(echo(msg, { remoteConfig: { config: { configMap: {} }, configHash: new Uint8Array([9]) } }))));
        }
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/opamp`;
    const c: OpampClient = client(url, { heartbeatSeconds: 5 }, { onRemoteConfig: (rc) => c.setRemoteConfigStatus(rc.configHash, RemoteConfigStatuses.RemoteConfigStatuses_APPLIED) }).c;
    c.start();
    await until('the status over the socket', () => seen.some((m) => m.remoteConfigStatus?.status === RemoteConfigStatuses.RemoteConfigStatuses_APPLIED));
    assert.ok(seen[0]!.agentDescription, 'full state first');
    assert.equal(c.state.transport, 'websocket');
    assert.equal(c.state.connected, true);
    for (const ws of wss.clients) ws.terminate();
    await until('a second connection', () => connections === 2);
    await until('full state again on the new connection', () => seen.filter((m) => m.agentDescription).length >= 2);
    await c.stop();
    await until('AgentDisconnect', () => seen.some((m) => m.agentDisconnect));
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
});
