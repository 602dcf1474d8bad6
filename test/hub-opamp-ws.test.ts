// The hub's OpAMP server over WebSocket (a real `ws` client, framed messages): replies, pushes
// after a change in the store (notify 'agents:*' / 'agent:<uid>'), malformed frames, the secret.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  AgentCapabilities,
  CustomCapabilitiesSchema,
  ServerErrorResponseType,
  create,
  decodeServerToAgent,
  encodeAgentToServer,
  frameWebSocket,
  uidToString,
  unframeWebSocket,
  type AgentToServer,
  type ServerToAgent,
} from '../src/fleet/codec.js';
import { NRDOT_CAPABILITY } from '../src/fleet/directives.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { message, startHub, until, type TestHub } from './hub-harness.js';

const CAPS =
  AgentCapabilities.AgentCapabilities_ReportsStatus |
  AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig |
  AgentCapabilities.AgentCapabilities_ReportsRemoteConfig;

class WsAgent {
  readonly received: ServerToAgent[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.received.push(decodeServerToAgent(unframeWebSocket(new Uint8Array(data)))));
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<WsAgent> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/opamp`, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new WsAgent(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(msg: AgentToServer | Uint8Array): void {
    this.ws.send(msg instanceof Uint8Array ? msg : frameWebSocket(encodeAgentToServer(msg)));
  }

  async next(what: string, pred: (m: ServerToAgent) => boolean = () => true): Promise<ServerToAgent> {
    return until(what, () => {
      const i = this.received.findIndex(pred);
      return i >= 0 ? this.received.splice(i, 1)[0] : undefined;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

describe('hub OpAMP over WebSocket', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    await hub.close();
  });

  it('answers each message and pushes a new config at once', async () => {
    const agent = await WsAgent.open(hub.url);
    const uid = uuidv7();
    const id = uidToString(uid);
    agent.send(message({ uid, seq: 1, capabilities: CAPS, identifying: { 'service.name': 'ws-agent' }, nonIdentifying: { 'nrdot.fleet.labels.role': 'web' } }));
    const first = await agent.next('the first reply');
    assert.deepEqual([...first.instanceUid], [...uid]);
    assert.equal(first.remoteConfig, undefined, 'nothing selects it yet');
    const rec = (await hub.store.getAgent(id))!;
    assert.equal(rec.transport, 'ws');
    assert.equal(rec.replica, hub.ctx.replicaId);
    assert.equal(hub.opamp.metrics.wsConnections, 1);

    const cfg = await hub.store.putConfig({ name: 'web-tuning', selector: 'role=web', priority: 10, opaque: true, body: 'x: 1\n', contentType: 'text/yaml', by: 'test' }, Date.now());
    await hub.store.notify('agents:*');
    const pushed = await agent.next('the pushed config', (m) => m.remoteConfig !== undefined);
    const files = Object.keys(pushed.remoteConfig!.config!.configMap);
    assert.deepEqual(files, ['fleet/00-web-tuning.yaml']);
    assert.equal(Buffer.from(pushed.remoteConfig!.config!.configMap['fleet/00-web-tuning.yaml']!.body).toString(), cfg.body);
    await until('sentConfigHash', async () => ((await hub.store.getAgent(id))!.sentConfigHash === Buffer.from(pushed.remoteConfig!.configHash).toString('hex') ? true : undefined));

    // Malformed frames get BAD_REQUEST on the same connection, which keeps working.
    agent.send(new Uint8Array([0x05, 0x01]));
    const bad = await agent.next('BAD_REQUEST', (m) => m.errorResponse !== undefined);
    assert.equal(bad.errorResponse!.type, ServerErrorResponseType.ServerErrorResponseType_BadRequest);
    agent.send(message({ uid, seq: 2, capabilities: CAPS }));
    const ok = await agent.next('a reply after the bad frame', (m) => m.errorResponse === undefined);
    assert.deepEqual([...ok.instanceUid], [...uid]);

    await agent.close();
    await until('the connection to be forgotten', () => hub.opamp.metrics.wsConnections === 0);
    await until('replica cleared', async () => ((await hub.store.getAgent(id))!.replica === null ? true : undefined));
  });

  it('pushes a queued request to a connected NRDOT agent', async () => {
    const agent = await WsAgent.open(hub.url);
    const uid = uuidv7();
    const id = uidToString(uid);
    agent.send(
      message(
        { uid, seq: 1, capabilities: CAPS, identifying: { 'service.name': 'nrdot-plus' } },
        { customCapabilities: create(CustomCapabilitiesSchema, { capabilities: [NRDOT_CAPABILITY] }) },
      ),
    );
    await agent.next('the first reply');
    const req = await hub.store.enqueueRequest(id, 'explain', { pid: 42 }, Date.now());
    await hub.store.notify(`agent:${id}`);
    const pushed = await agent.next('the request', (m) => m.customMessage !== undefined);
    assert.deepEqual(JSON.parse(Buffer.from(pushed.customMessage!.data).toString()), { id: req.id, type: 'explain', body: { pid: 42 } });
    await agent.close();
  });

  it('keeps an agent that reconnected before its old connection closed', async () => {
    const uid = uuidv7();
    const id = uidToString(uid);
    const labels = { 'nrdot.fleet.labels.role': 'reconnect' };
    const first = await WsAgent.open(hub.url);
    first.send(message({ uid, seq: 1, capabilities: CAPS, identifying: { 'service.name': 'r' }, nonIdentifying: labels }));
    await first.next('reply on the first connection');
    const second = await WsAgent.open(hub.url);
    second.send(message({ uid, seq: 2, capabilities: CAPS }));
    await second.next('reply on the second connection');
    await first.close();
    await hub.store.putConfig({ name: 'r', selector: 'role=reconnect', priority: 1, opaque: true, body: 'r: 1\n', contentType: 'text/yaml', by: 't' }, Date.now());
    await hub.store.notify('agents:*');
    await second.next('the push on the live connection', (m) => m.remoteConfig !== undefined);
    assert.equal((await hub.store.getAgent(id))!.replica, hub.ctx.replicaId);
    await second.close();
  });

  it('closes a connection that sends a message above the size limit (1009)', async () => {
    const agent = await WsAgent.open(hub.url);
    const closed = new Promise<number>((resolve) => agent.ws.once('close', (code: number) => resolve(code)));
    agent.send(new Uint8Array(2 * 1024 * 1024));
    assert.equal(await closed, 1009);
    const again = await WsAgent.open(hub.url);
    again.send(message({ uid: uuidv7(), seq: 1, identifying: { 'service.name': 'after' } }));
    assert.equal((await again.next('a reply after the oversized one')).errorResponse, undefined);
    await again.close();
  });

  it('refuses an upgrade without the secret, and while starting', async () => {
    const locked = await startHub({ agentSecret: 'k' }, { ready: false });
    try {
      await assert.rejects(WsAgent.open(locked.url), /HTTP 401/);
      await assert.rejects(WsAgent.open(locked.url, { authorization: 'Bearer k' }), /HTTP 503/);
      locked.opamp.setReady(true);
      const a = await WsAgent.open(locked.url, { authorization: 'Bearer k' });
      a.send(message({ uid: uuidv7(), seq: 1, identifying: { 'service.name': 'x' } }));
      assert.equal((await a.next('a reply')).errorResponse, undefined);
      await a.close();
    } finally {
      await locked.close();
    }
  });
});
