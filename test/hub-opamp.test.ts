// The hub's OpAMP server over plain HTTP, with hand-built messages, against a real fastify and
// the real SQLite store: what it stores, what it answers, and what it refuses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { after, before, describe, it } from 'node:test';
import {
  AgentCapabilities,
  AgentToServerFlags,
  ComponentHealthSchema,
  CustomCapabilitiesSchema,
  EffectiveConfigSchema,
  AgentConfigMapSchema,
  AgentConfigFileSchema,
  RemoteConfigStatusSchema,
  RemoteConfigStatuses,
  ServerErrorResponseType,
  ServerToAgentFlags,
  create,
  decodeServerToAgent,
  encodeAgentToServer,
  recordToAttributes,
  uidToString,
} from '../src/fleet/codec.js';
import { DIRECTIVES_FILE, NRDOT_CAPABILITY } from '../src/fleet/directives.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { message, post, startHub, until, type TestHub } from './hub-harness.js';

const FULL = BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState);
const NRDOT_CAPS =
  AgentCapabilities.AgentCapabilities_ReportsStatus |
  AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig |
  AgentCapabilities.AgentCapabilities_ReportsRemoteConfig |
  AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig |
  AgentCapabilities.AgentCapabilities_ReportsHealth |
  AgentCapabilities.AgentCapabilities_ReportsHeartbeat |
  AgentCapabilities.AgentCapabilities_ReportsOwnMetrics;

function nrdotFull(uid: Uint8Array, seq: number, host = 'h-1', boot = 'b-1', bootTimeSeconds?: number) {
  return message(
    {
      uid,
      seq,
      capabilities: NRDOT_CAPS,
      identifying: { 'service.name': 'nrdot-plus', 'host.id': host, 'service.instance.id': uidToString(uid) },
      nonIdentifying: {
        'host.name': 'db-1',
        'service.version': '0.2.0',
        'nrdot.host.boot_id': boot,
        ...(bootTimeSeconds ? { 'nrdot.host.boot_time': bootTimeSeconds } : {}),
        'nrdot.fleet.labels.role': 'db',
        'nrdot.fleet.labels.env': 'prod',
      },
    },
    {
      customCapabilities: create(CustomCapabilitiesSchema, { capabilities: [NRDOT_CAPABILITY] }),
      health: create(ComponentHealthSchema, {
        healthy: true,
        status: 'running',
        attributes: recordToAttributes({ 'nrdot.profile': 'balanced', 'nrdot.profile.reason': 'configured default' }),
      }),
      effectiveConfig: create(EffectiveConfigSchema, {
        configMap: create(AgentConfigMapSchema, {
          configMap: { 'optimization.yaml': create(AgentConfigFileSchema, { body: Buffer.from('profile: balanced\n'), contentType: 'text/yaml' }) },
        }),
      }),
    },
  );
}

describe('hub OpAMP over plain HTTP', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    await hub.close();
  });

  it('stores a full report and answers with the UID, offers and the remote config', async () => {
    const uid = uuidv7();
    const r = await post(hub, nrdotFull(uid, 1));
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'application/x-protobuf');
    const reply = r.reply!;
    assert.deepEqual([...reply.instanceUid], [...uid]);
    assert.equal(reply.flags & FULL, 0n);
    assert.ok(reply.errorResponse === undefined);
    assert.equal(reply.connectionSettings?.opamp?.heartbeatIntervalSeconds, 30n);
    assert.equal(reply.connectionSettings?.ownMetrics?.destinationEndpoint, `${hub.url}/v1/metrics`);
    assert.ok(reply.remoteConfig, 'an NRDOT agent gets its directives file');
    assert.ok(reply.remoteConfig.config?.configMap[DIRECTIVES_FILE]);
    assert.deepEqual(reply.customCapabilities?.capabilities, [NRDOT_CAPABILITY]);

    const rec = (await hub.store.getAgent(uidToString(uid)))!;
    assert.equal(rec.kind, 'nrdot');
    assert.deepEqual(rec.labels, { role: 'db', env: 'prod' });
    assert.equal(rec.version, '0.2.0');
    assert.equal(rec.hostName, 'db-1');
    assert.equal(rec.status, 'online');
    assert.equal(rec.transport, 'http');
    assert.equal(rec.profile, 'balanced');
    assert.equal(rec.profileReason, 'configured default');
    assert.equal(rec.effectiveConfig?.['optimization.yaml'], 'profile: balanced\n');
    assert.equal(rec.sentConfigHash, Buffer.from(reply.remoteConfig.configHash).toString('hex'));
    assert.ok(rec.offeredSettingsHash);

    // The agent applies it: the status is stored and the config is not sent again.
    const applied = message({ uid, seq: 2, capabilities: NRDOT_CAPS }, {
      remoteConfigStatus: create(RemoteConfigStatusSchema, { lastRemoteConfigHash: reply.remoteConfig.configHash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED }),
    });
    const r2 = await post(hub, applied);
    assert.equal(r2.reply!.remoteConfig, undefined);
    assert.equal(r2.reply!.connectionSettings, undefined, 'offers go out once');
    const rec2 = (await hub.store.getAgent(uidToString(uid)))!;
    assert.equal(rec2.remoteConfigStatus?.status, 'APPLIED');
    assert.equal(rec2.remoteConfigStatus?.hash, rec.sentConfigHash);

    // A heartbeat changes only last seen (written in a batch).
    const r3 = await post(hub, message({ uid, seq: 3, capabilities: NRDOT_CAPS }));
    assert.equal(r3.reply!.flags & FULL, 0n);
    await until('the heartbeat to be written', async () => ((await hub.store.getAgent(uidToString(uid)))!.lastSequenceNum === 3 ? true : undefined));
  });

  it('asks for the full state on an unknown agent and on a sequence gap', async () => {
    const uid = uuidv7();
    const unknown = await post(hub, message({ uid, seq: 7 }));
    assert.equal(unknown.reply!.flags & FULL, FULL);
    const full = await post(hub, message({ uid, seq: 8, identifying: { 'service.name': 'x' } }));
    assert.equal(full.reply!.flags & FULL, 0n);
    const next = await post(hub, message({ uid, seq: 9 }));
    assert.equal(next.reply!.flags & FULL, 0n);
    const gap = await post(hub, message({ uid, seq: 12 }));
    assert.equal(gap.reply!.flags & FULL, FULL);
    assert.deepEqual([...gap.reply!.instanceUid], [...uid]);
  });

  it('gives a new instance UID to an agent that asks, or sends none', async () => {
    const temp = randomBytes(16);
    const asked = await post(hub, message({ uid: temp, seq: 1, identifying: { 'service.name': 'a' } }, { flags: BigInt(AgentToServerFlags.AgentToServerFlags_RequestInstanceUid) }));
    assert.deepEqual([...asked.reply!.instanceUid], [...temp], 'the reply echoes the UID the agent sent');
    const assigned = asked.reply!.agentIdentification!.newInstanceUid;
    assert.equal(assigned.length, 16);
    assert.equal(assigned[6]! >> 4, 7, 'a UUIDv7');
    assert.ok(await hub.store.getAgent(uidToString(assigned)), 'stored under the new UID');
    const empty = await post(hub, message({ uid: new Uint8Array(), seq: 1 }));
    assert.equal(empty.reply!.agentIdentification!.newInstanceUid.length, 16);
  });

  it('accepts gzip bodies', async () => {
    const uid = uuidv7();
    const r = await post(hub, message({ uid, seq: 1, identifying: { 'service.name': 'gz' } }), { gzip: true });
    assert.equal(r.status, 200);
    assert.ok(await hub.store.getAgent(uidToString(uid)));
  });

  it('compresses a large reply for an agent that accepts gzip', async () => {
    const uid = uuidv7();
    await hub.store.putConfig({ name: 'big', selector: 'role=gzip', priority: 1, opaque: true, body: 'k: v\n'.repeat(2000), contentType: 'text/yaml', by: 't' }, Date.now());
    await hub.store.notify('agents:*');
    const msg = message({ uid, seq: 1, capabilities: NRDOT_CAPS, identifying: { 'service.name': 'z' }, nonIdentifying: { 'nrdot.fleet.labels.role': 'gzip' } });
    const res = await request(`${hub.url}/v1/opamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'accept-encoding': 'gzip' },
      body: encodeAgentToServer(msg),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    const raw = Buffer.from(await res.body.arrayBuffer());
    assert.ok(raw.length < 2000);
    const reply = decodeServerToAgent(gunzipSync(raw));
    assert.equal(Buffer.from(reply.remoteConfig!.config!.configMap['fleet/00-big.yaml']!.body).length, 10_000);
  });

  it('refuses bad input with a clear answer and keeps serving', async () => {
    const uid = uuidv7();
    const stillServes = async (seq: number) => {
      const ok = await post(hub, message({ uid, seq, identifying: { 'service.name': 'survivor' } }));
      assert.equal(ok.status, 200);
    };
    const wrongType = await post(hub, message({ uid, seq: 1 }), { contentType: 'application/json' });
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.text, /Content-Type: application\/x-protobuf/);
    await stillServes(1);

    const garbage = await post(hub, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    assert.equal(garbage.status, 400);
    assert.equal(garbage.reply!.errorResponse?.type, ServerErrorResponseType.ServerErrorResponseType_BadRequest);
    assert.match(garbage.reply!.errorResponse!.errorMessage, /malformed AgentToServer/);
    await stillServes(2);

    const shortUid = await post(hub, message({ uid: new Uint8Array([1, 2, 3]), seq: 1 }));
    assert.equal(shortUid.status, 400);
    assert.match(shortUid.reply!.errorResponse!.errorMessage, /16/);

    const big = await post(hub, new Uint8Array(2 * 1024 * 1024));
    assert.equal(big.status, 413);
    await stillServes(3);

    // 8 MiB of zeros gzip to a few KiB: refused once decompressed beyond the limit.
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    assert.ok(bomb.length < 1024 * 1024);
    const res = await fetch(`${hub.url}/v1/opamp`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: bomb });
    assert.equal(res.status, 413);
    assert.match(await res.text(), /decompressed/);
    await stillServes(4);

    const badGzip = await post(hub, new Uint8Array([1, 2, 3]), { headers: { 'content-encoding': 'gzip' } });
    assert.equal(badGzip.status, 400);
    await stillServes(5);

    const get = await fetch(`${hub.url}/v1/opamp`);
    assert.equal(get.status, 405);
    await stillServes(6);
    assert.ok(hub.opamp.metrics.requests.http.bad_request >= 2);
    assert.ok(hub.opamp.metrics.requests.http.too_large >= 2);
    assert.ok(hub.opamp.metrics.requests.http.unsupported >= 1);
    assert.ok(hub.opamp.metrics.latency.count > 0);
  });
});

describe('hub OpAMP: secret, starting, offline, clones, requests', () => {
  it('requires the enrollment secret when one is set (401 otherwise)', async () => {
    const hub = await startHub({ agentSecret: 's3cret' });
    try {
      const uid = uuidv7();
      const msg = message({ uid, seq: 1, identifying: { 'service.name': 'a' } });
      assert.equal((await post(hub, msg)).status, 401);
      assert.equal((await post(hub, msg, { headers: { authorization: 'Bearer wrong' } })).status, 401);
      const ok = await post(hub, msg, { headers: { authorization: 'Bearer s3cret' } });
      assert.equal(ok.status, 200);
      assert.equal(hub.opamp.metrics.requests.http.unauthorized, 2);
    } finally {
      await hub.close();
    }
  });

  it('answers UNAVAILABLE with retry info (503 + Retry-After) while starting', async () => {
    const hub = await startHub({}, { ready: false });
    try {
      const uid = uuidv7();
      const r = await post(hub, message({ uid, seq: 1, identifying: { 'service.name': 'a' } }), { headers: { 'opamp-instance-uid': uidToString(uid) } });
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '5');
      assert.equal(r.reply!.errorResponse?.type, ServerErrorResponseType.ServerErrorResponseType_Unavailable);
      assert.equal(r.reply!.errorResponse?.Details.case, 'retryInfo');
      assert.deepEqual([...r.reply!.instanceUid], [...uid]);
      assert.equal(await hub.store.getAgent(uidToString(uid)), null);
      hub.opamp.setReady(true);
      assert.equal((await post(hub, message({ uid, seq: 1, identifying: { 'service.name': 'a' } }))).status, 200);
    } finally {
      await hub.close();
    }
  });

  it('points own metrics at the public URL when one is set', async () => {
    const hub = await startHub({ publicUrl: 'https://hub.example.com/' });
    try {
      const r = await post(hub, nrdotFull(uuidv7(), 1));
      assert.equal(r.reply!.connectionSettings?.ownMetrics?.destinationEndpoint, 'https://hub.example.com/v1/metrics');
    } finally {
      await hub.close();
    }
  });

  it('answers UNAVAILABLE when too many messages are in flight', async () => {
    const hub = await startHub({}, { maxInFlight: 0 });
    try {
      const r = await post(hub, message({ uid: uuidv7(), seq: 1 }));
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('retry-after'), '15');
      assert.match(r.reply!.errorResponse!.errorMessage, /overloaded/);
      assert.equal(hub.opamp.metrics.requests.http.unavailable, 1);
    } finally {
      await hub.close();
    }
  });

  it('marks an agent offline after 3 of its intervals, and at once on AgentDisconnect', async () => {
    const hub = await startHub();
    try {
      const uid = uuidv7();
      await post(hub, message({ uid, seq: 1, identifying: { 'service.name': 'hb' } }));
      for (let seq = 2; seq <= 5; seq++) {
        await new Promise((r) => setTimeout(r, 150));
        await post(hub, message({ uid, seq }));
      }
      const id = uidToString(uid);
      const rec = await until('the observed interval', async () => {
        const a = await hub.store.getAgent(id);
        return a && a.lastSequenceNum === 5 ? a : undefined;
      });
      assert.ok(rec.observedIntervalSeconds! > 0.1 && rec.observedIntervalSeconds! < 1, `observed ${rec.observedIntervalSeconds}`);
      const stopped = Date.now();
      const off = await until('offline', async () => {
        const a = await hub.store.getAgent(id);
        return a?.status === 'offline' ? a : undefined;
      });
      assert.ok(Date.now() - stopped >= 3 * 0.1 * 1000, 'not before 3 intervals');
      assert.ok(off.offlineSinceMs);

      const other = uuidv7();
      await post(hub, message({ uid: other, seq: 1, identifying: { 'service.name': 'bye' } }));
      await post(hub, message({ uid: other, seq: 2 }, { agentDisconnect: {} as never }));
      assert.equal((await hub.store.getAgent(uidToString(other)))!.status, 'offline');
    } finally {
      await hub.close();
    }
  });

  it('gives a clone a new UID (other host or boot, or interleaving sequences) but not a restart', async () => {
    const hub = await startHub();
    try {
      const uid = uuidv7();
      const id = uidToString(uid);
      assert.equal((await post(hub, nrdotFull(uid, 1))).reply!.agentIdentification, undefined);
      assert.equal((await post(hub, message({ uid, seq: 2, capabilities: NRDOT_CAPS }))).reply!.agentIdentification, undefined);
      // Restart: same host and boot, sequence back to 1.
      const restart = await post(hub, nrdotFull(uid, 1));
      assert.equal(restart.reply!.agentIdentification, undefined);
      // A copy of its data directory on another host.
      const clone = await post(hub, nrdotFull(uid, 1, 'h-2', 'b-9'));
      const newUid = clone.reply!.agentIdentification?.newInstanceUid;
      assert.ok(newUid && newUid.length === 16);
      assert.deepEqual([...clone.reply!.instanceUid], [...uid]);
      assert.equal((await hub.store.getAgent(id))!.description?.identifying['host.id'], 'h-1', 'the original keeps its record');
      assert.ok(await hub.store.getAgent(uidToString(newUid)));
      const journal = await hub.store.listJournal({});
      assert.ok(journal.some((j) => j.action === 'agent.clone' && j.target === id));

      // The same host rebooted quickly (no goodbye, its record still online): a boot that began after
      // the agent was last heard from is not a copy running beside it. A boot that began before is.
      const uid3 = uuidv7();
      await post(hub, nrdotFull(uid3, 1, 'h-3', 'b-1', Math.floor(Date.now() / 1000) - 3600));
      const seen = (await hub.store.getAgent(uidToString(uid3)))!.lastSeenMs;
      const rebooted = await post(hub, nrdotFull(uid3, 1, 'h-3', 'b-2', Math.ceil(seen / 1000) + 1));
      assert.equal(rebooted.reply!.agentIdentification, undefined, 'a reboot keeps its UID');
      const copy = await post(hub, nrdotFull(uid3, 1, 'h-3', 'b-3', Math.floor(Date.now() / 1000) - 60));
      assert.ok(copy.reply!.agentIdentification?.newInstanceUid.length === 16, 'a boot older than the last message is another machine');

      // Interleaving sequence numbers with the same identity (two processes, one data dir).
      const uid2 = uuidv7();
      await post(hub, nrdotFull(uid2, 1));
      await post(hub, message({ uid: uid2, seq: 2, capabilities: NRDOT_CAPS }));
      const b1 = await post(hub, message({ uid: uid2, seq: 1, capabilities: NRDOT_CAPS }));
      assert.equal(b1.reply!.agentIdentification, undefined);
      const a3 = await post(hub, message({ uid: uid2, seq: 3, capabilities: NRDOT_CAPS }));
      assert.equal(a3.reply!.agentIdentification, undefined, 'the original keeps its UID');
      const b2 = await post(hub, message({ uid: uid2, seq: 2, capabilities: NRDOT_CAPS }));
      assert.ok(b2.reply!.agentIdentification?.newInstanceUid.length === 16, 'the newcomer gets a new UID');
    } finally {
      await hub.close();
    }
  });

  it('serves heartbeats from what it last wrote, yet a forgotten agent registers again and an agent marked offline comes back', async () => {
    const hub = await startHub({ heartbeatSeconds: 1 });
    try {
      const uid = uuidv7();
      const id = uidToString(uid);
      await post(hub, nrdotFull(uid, 1));
      for (let seq = 2; seq <= 4; seq++) assert.equal((await post(hub, message({ uid, seq, capabilities: NRDOT_CAPS }))).reply!.flags & FULL, 0n);
      await until('heartbeat 4 written', async () => ((await hub.store.getAgent(id))?.lastSequenceNum === 4 ? true : undefined));

      // Marked offline meanwhile (by the sweep of whichever replica leads): its next heartbeat brings it back.
      await hub.store.upsertAgent(id, { status: 'offline', offlineSinceMs: Date.now() }, Date.now());
      assert.equal((await post(hub, message({ uid, seq: 5, capabilities: NRDOT_CAPS }))).reply!.flags & FULL, 0n);
      await until('online again', async () => ((await hub.store.getAgent(id))?.status === 'online' ? true : undefined));

      // Forgotten (fleet agent forget, on any replica): its next heartbeat is from an unknown agent.
      await hub.store.forgetAgent(id);
      await hub.store.notify(`agent:${id}`);
      const after = await post(hub, message({ uid, seq: 6, capabilities: NRDOT_CAPS }));
      assert.notEqual(after.reply!.flags & FULL, 0n, 'asked for its full state');
      await post(hub, nrdotFull(uid, 7));
      assert.equal((await hub.store.getAgent(id))?.description?.identifying['host.id'], 'h-1', 'registered again');
    } finally {
      await hub.close();
    }
  });

  it('relays a request to an agent within a poll and stores its answer', async () => {
    const hub = await startHub();
    try {
      const uid = uuidv7();
      const id = uidToString(uid);
      await post(hub, nrdotFull(uid, 1));
      const req = await hub.store.enqueueRequest(id, 'top', { limit: 5 }, Date.now());
      await hub.store.notify(`agent:${id}`);
      const poll = await until('the request in a reply', async () => {
        const r = await post(hub, message({ uid, seq: 2, capabilities: NRDOT_CAPS }));
        return r.reply!.customMessage ? r : undefined;
      }, 2000);
      const cm = poll.reply!.customMessage!;
      assert.equal(cm.capability, NRDOT_CAPABILITY);
      assert.equal(cm.type, 'request');
      assert.deepEqual(JSON.parse(Buffer.from(cm.data).toString()), { id: req.id, type: 'top', body: { limit: 5 } });
      assert.equal(poll.reply!.connectionSettings?.opamp?.heartbeatIntervalSeconds, 2n, 'the watch heartbeat while someone looks');
      const answer = message({ uid, seq: 3, capabilities: NRDOT_CAPS }, {
        customMessage: { $typeName: 'opamp.proto.CustomMessage', capability: NRDOT_CAPABILITY, type: 'response', data: Buffer.from(JSON.stringify({ id: req.id, ok: true, result: { processes: [] } })) },
      });
      assert.equal((await post(hub, answer)).status, 200);
      const stored = (await hub.store.getRequest(req.id))!;
      assert.equal(stored.state, 'answered');
      assert.deepEqual(stored.response, { ok: true, result: { processes: [] } });

      // A request whose notification was lost still goes out (the sweep sees it pending).
      const quiet = await hub.store.enqueueRequest(id, 'journal', { limit: 10 }, Date.now());
      let seq = 4;
      const late = await until('the unannounced request', async () => {
        const r = await post(hub, message({ uid, seq: seq++, capabilities: NRDOT_CAPS }));
        return r.reply!.customMessage ? r.reply!.customMessage : undefined;
      }, 3000);
      assert.equal(JSON.parse(Buffer.from(late.data).toString()).id, quiet.id);
    } finally {
      await hub.close();
    }
  });
});
