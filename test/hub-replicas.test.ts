// Two hub replicas on one PostgreSQL database (a real server started by the test): an agent
// holding a WebSocket to one replica gets a config applied through the other at once (NOTIFY
// wakes the replica that holds it), a polling agent moves between replicas without losing its
// sequence, and only one replica runs the offline sweep.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import {
  AgentCapabilities,
  ServerToAgentFlags,
  decodeServerToAgent,
  encodeAgentToServer,
  frameWebSocket,
  uidToString,
  unframeWebSocket,
  type ServerToAgent,
} from '../src/fleet/codec.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { message, post, startHub, until, type TestHub } from './hub-harness.js';
import { postgresUnavailable, startPostgres, type PostgresServer } from './postgres.js';

const CAPS = AgentCapabilities.AgentCapabilities_ReportsStatus | AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig;
const FULL = BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState);

describe('hub replicas on PostgreSQL', () => {
  let server: PostgresServer;
  let a: TestHub;
  let b: TestHub;
  before(async () => {
    const why = postgresUnavailable();
    if (why) throw new Error(why);
    server = await startPostgres();
    const database = await server.createDatabase();
    [a, b] = await Promise.all([startHub({ database }), startHub({ database })]);
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await server?.stop();
  });

  it('pushes a config applied through one replica to a WebSocket held by the other', async () => {
    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/v1/opamp`);
    const received: ServerToAgent[] = [];
    ws.on('message', (d: Buffer) => received.push(decodeServerToAgent(unframeWebSocket(new Uint8Array(d)))));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const uid = uuidv7();
    ws.send(frameWebSocket(encodeAgentToServer(message({ uid, seq: 1, capabilities: CAPS, identifying: { 'service.name': 'r' }, nonIdentifying: { 'nrdot.fleet.labels.tier': 'edge' } }))));
    await until('the first reply', () => received.length > 0);
    const rec = (await a.store.getAgent(uidToString(uid)))!;
    assert.equal(rec.replica, b.ctx.replicaId, 'replica A sees who holds it');

    await a.store.putConfig({ name: 'edge', selector: 'tier=edge', priority: 1, opaque: true, body: 'edge: true\n', contentType: 'text/yaml', by: 'test' }, Date.now());
    await a.store.notify('agents:*');
    const pushed = await until('the push from replica B', () => received.find((m) => m.remoteConfig));
    assert.ok(pushed.remoteConfig!.config!.configMap['fleet/00-edge.yaml']);
    ws.close();
  });

  it('serves a polling agent on either replica', async () => {
    const uid = uuidv7();
    assert.equal((await post(a, message({ uid, seq: 1, identifying: { 'service.name': 'p' } }))).status, 200);
    await until('written', async () => (await b.store.getAgent(uidToString(uid))) ?? undefined);
    const r2 = await post(b, message({ uid, seq: 2 }));
    assert.equal(r2.reply!.flags & FULL, 0n, 'no gap across replicas');
    // Heartbeats are written in batches: once B's is in the database, A continues from it.
    await until('sequence 2 written', async () => ((await a.store.getAgent(uidToString(uid)))?.lastSequenceNum === 2 ? true : undefined));
    const r3 = await post(a, message({ uid, seq: 3 }));
    assert.equal(r3.reply!.flags & FULL, 0n);
  });
});
