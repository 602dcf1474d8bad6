// The hub benchmark's simulated agent and its statistics, checked alone: what it sends is what an
// OpAMP server decodes, it reacts to the hub's answers as a client must, and quantiles are right.
import type { MessageInitShape } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attributesToRecord,
  create,
  decodeAgentToServer,
  encodeServerToAgent,
  ServerToAgentSchema,
} from '../src/fleet/codec.js';
import { NRDOT_CAPABILITY } from '../src/fleet/directives.js';
import { ExportMetricsServiceRequest } from '../test/otlp-receiver.js';
import { agentSpec, CAPABILITIES, kpiRequest, OPAMP, SimAgent } from './hub-sim.js';
import { Histogram } from './hub-stats.js';

const reply = (agent: SimAgent, init: MessageInitShape<typeof ServerToAgentSchema> = {}): Uint8Array =>
  encodeServerToAgent(create(ServerToAgentSchema, { instanceUid: agent.uid, ...init }));

test('the first message carries the full state; the next ones only the UID, sequence and capabilities', () => {
  const agent = new SimAgent(agentSpec(4), 30);
  assert.equal(agent.nextIsHeartbeat, false);
  const first = decodeAgentToServer(agent.nextMessage());
  assert.equal(first.sequenceNum, 1n);
  assert.equal(first.capabilities, BigInt(CAPABILITIES));
  const id = attributesToRecord(first.agentDescription!.identifyingAttributes);
  const nonId = attributesToRecord(first.agentDescription!.nonIdentifyingAttributes);
  assert.equal(id['service.instance.id'], agent.uidText);
  assert.equal(id['service.name'], 'nrdot-plus');
  assert.ok(id['host.id']);
  assert.deepEqual([nonId['nrdot.fleet.labels.role'], nonId['nrdot.fleet.labels.env'], nonId['host.name']], ['db', 'prod', 'bench-host-00004']);
  assert.equal(attributesToRecord(first.health!.attributes)['nrdot.profile'], 'balanced');
  assert.deepEqual(first.customCapabilities?.capabilities, [NRDOT_CAPABILITY]);
  assert.ok(first.effectiveConfig?.configMap?.configMap['effective.yaml']);

  const r = agent.onReply(reply(agent), Date.now());
  assert.deepEqual([r.problem, r.next.now], [null, false]);
  assert.equal(agent.nextIsHeartbeat, true);
  const beat = decodeAgentToServer(agent.nextMessage());
  assert.equal(beat.sequenceNum, 2n);
  assert.equal(beat.agentDescription, undefined);
  assert.equal(beat.health, undefined);
});

test('heartbeat offer, own-metrics endpoint and ReportFullState are followed; jitter stays within 10%', () => {
  const agent = new SimAgent(agentSpec(1), 30);
  agent.nextMessage();
  agent.onReply(reply(agent), 0);
  agent.nextMessage();
  const r = agent.onReply(
    reply(agent, {
      flags: OPAMP.ReportFullState,
      connectionSettings: {
        $typeName: 'opamp.proto.ConnectionSettingsOffers',
        hash: new Uint8Array([1]),
        otherConnections: {},
        opamp: { $typeName: 'opamp.proto.OpAMPConnectionSettings', destinationEndpoint: '', heartbeatIntervalSeconds: 5n },
        ownMetrics: {
          $typeName: 'opamp.proto.TelemetryConnectionSettings',
          destinationEndpoint: 'http://127.0.0.1:9/v1/metrics',
          headers: { $typeName: 'opamp.proto.Headers', headers: [{ $typeName: 'opamp.proto.Header', key: 'authorization', value: 'Bearer x' }] },
        },
      },
    }),
    0,
  );
  assert.equal(r.fullStateAsked, true);
  assert.equal(r.next.now, true, 'full state goes out at once');
  assert.equal(agent.heartbeatS, 5);
  assert.equal(agent.kpiUrl, 'http://127.0.0.1:9/v1/metrics');
  assert.deepEqual(agent.kpiHeaders, { authorization: 'Bearer x' });
  assert.ok(decodeAgentToServer(agent.nextMessage()).agentDescription);
  for (let i = 0; i < 1000; i++) {
    const d = agent.pollDelayMs();
    assert.ok(d >= 4500 && d <= 5500, String(d));
  }
});

test('a remote config is applied and reported APPLIED with its hash in a message sent at once', () => {
  const agent = new SimAgent(agentSpec(0), 30);
  agent.nextMessage();
  agent.onReply(reply(agent), 0);
  agent.nextMessage();
  const hash = new Uint8Array([0xab, 0xcd]);
  const r = agent.onReply(
    reply(agent, {
      remoteConfig: {
        $typeName: 'opamp.proto.AgentRemoteConfig',
        configHash: hash,
        config: { $typeName: 'opamp.proto.AgentConfigMap', configMap: { 'fleet/00-bench.yaml': { $typeName: 'opamp.proto.AgentConfigFile', body: new Uint8Array(), contentType: 'text/yaml' } } },
      },
    }),
    1234,
  );
  assert.deepEqual(r.applied, { uid: agent.uidText, role: 'db', hash: 'abcd', atMs: 1234 });
  assert.equal(r.next.now, true);
  assert.equal(agent.nextIsHeartbeat, false);
  const status = decodeAgentToServer(agent.nextMessage());
  assert.equal(status.remoteConfigStatus?.status, OPAMP.APPLIED);
  assert.deepEqual([...status.remoteConfigStatus!.lastRemoteConfigHash], [0xab, 0xcd]);
  // The same config offered again is not applied twice.
  const again = agent.onReply(reply(agent, { remoteConfig: { $typeName: 'opamp.proto.AgentRemoteConfig', configHash: hash } }), 0);
  assert.equal(again.applied, null);
  assert.equal(again.next.now, false);
});

test('an unanswered or refused message goes out again as it was, after the backoff or the hub\'s retry time', () => {
  const agent = new SimAgent(agentSpec(2), 30, 0.1, () => 0.5);
  const first = agent.nextMessage();
  assert.deepEqual(agent.failed().delayMs, 500);
  assert.deepEqual(agent.failed().delayMs, 750, 'exponential backoff');
  assert.equal(agent.nextMessage(), first, 'the same bytes: same sequence number, full state');
  const r = agent.onReply(
    reply(agent, {
      errorResponse: {
        type: OPAMP.Unavailable,
        errorMessage: 'busy',
        Details: { case: 'retryInfo', value: { retryAfterNanoseconds: 7_000_000_000n } },
      },
    }),
    0,
  );
  assert.deepEqual([r.problem, r.next.delayMs], ['unavailable', 7000]);
  assert.equal(agent.nextMessage(), first, 'refused: sent again');
  const other = encodeServerToAgent(create(ServerToAgentSchema, { instanceUid: new Uint8Array(16) }));
  assert.equal(agent.onReply(other, 0).problem, 'wrong_uid');
  assert.equal(agent.onReply(new Uint8Array([0xff, 0xff, 0xff]), 0).problem, 'bad_reply');
  assert.equal(agent.onReply(reply(agent), 0).problem, null);
  const next = decodeAgentToServer(agent.nextMessage());
  assert.deepEqual([next.sequenceNum, next.agentDescription], [2n, undefined], 'answered: the next message is a new one');
  assert.equal(agent.failed().delayMs, 500, 'the backoff starts again after an answer');
});

test("the KPI request is an OTLP ExportMetricsServiceRequest with the agent's metrics and UID", () => {
  const agent = new SimAgent(agentSpec(3), 30);
  const decoded = ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(kpiRequest(agent, 1_700_000_000)), { longs: String }) as {
    resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeMetrics: Array<{ metrics: Array<{ name: string; gauge?: { dataPoints: Array<{ attributes?: Array<{ key: string; value: { stringValue?: string } }> }> } }> }> }>;
  };
  const rm = decoded.resourceMetrics[0]!;
  assert.equal(rm.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue, agent.uidText);
  const metrics = rm.scopeMetrics[0]!.metrics;
  const names = metrics.map((m) => m.name).sort();
  assert.deepEqual(names, [
    'nrdot.agent.cpu.utilization',
    'nrdot.agent.memory.rss',
    'nrdot.estimated.cost_per_hour',
    'nrdot.hub.datapoints',
    'nrdot.hub.shadow.cost_per_hour',
    'nrdot.hub.visibility',
    'nrdot.optimization.reduction',
    'nrdot.process.coverage.critical',
    'nrdot.process.series.baseline',
    'nrdot.process.series.kept',
    'nrdot.profile.active',
  ]);
  const cost = metrics.find((m) => m.name === 'nrdot.estimated.cost_per_hour')!;
  assert.deepEqual(cost.gauge!.dataPoints.map((p) => p.attributes![0]!.value.stringValue), ['baseline', 'optimized']);
});

test('histogram quantiles are within 1% of the exact ones and merge across workers', () => {
  const a = new Histogram();
  const b = new Histogram();
  const all: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const v = Math.exp(Math.random() * 8) * 0.05; // 0.05 ms .. 150 ms
    all.push(v);
    (i % 2 ? a : b).record(v);
  }
  const merged = Histogram.from(a.toJSON());
  merged.merge(JSON.parse(JSON.stringify(b.toJSON())));
  all.sort((x, y) => x - y);
  for (const q of [0.5, 0.9, 0.99, 1]) {
    const exact = all[Math.ceil(q * all.length) - 1]!;
    const got = merged.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.0101, `q${q}: ${got} vs ${exact}`);
  }
  assert.equal(merged.count, 20_000);
  assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
});
