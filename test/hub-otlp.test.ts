// The hub's OTLP receiver fed by the agent's own encoder (OpenTelemetry's protobuf and JSON
// serializers): KPIs land per agent and per label group, the registry shows the latest, and
// points of an agent the hub does not know are rejected as a partial success.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { uidToString } from '../src/fleet/codec.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { ExportMetricsServiceResponseSchema } from '../src/hub/otlp/gen/otlp_metrics_service_pb.js';
import { selfUsageMetrics } from '../src/agent/self.js';
import { encodeProtobuf, toOtlpJson } from '../src/otlp/encode.js';
import { selfResource } from '../src/pipeline/series.js';
import type { Batch, Metric } from '../src/pipeline/types.js';
import { message, post, startHub, type TestHub } from './hub-harness.js';

function hubGauge(name: string, value: number, attributes: Record<string, string> | null = null): Metric {
  return { name, unit: '1', description: '', kind: 'gauge', monotonic: false, integer: false, points: [{ attributes, value }] };
}

function batchFor(uid: string, timestamp: number, profile = 'balanced'): Batch {
  const extra = [
    ...selfUsageMetrics({ cpuPercent: 1.5, rssBytes: 80e6, peakRssBytes: 90e6 }),
    hubGauge('nrdot.hub.datapoints', 1000, { kind: 'baseline' }),
    hubGauge('nrdot.hub.datapoints', 300, { kind: 'exported' }),
    hubGauge('nrdot.hub.visibility', 0.97),
    hubGauge('nrdot.hub.shadow.cost_per_hour', 0.21, { 'nrdot.profile': 'aggressive' }),
    hubGauge('nrdot.hub.anomalies', 2),
  ];
  const self = selfResource(
    { 'service.name': 'nrdot-plus', 'service.instance.id': uid },
    { profile, seriesBaseline: 1200, seriesKept: 360, coverageCritical: 1, costPerHourBaseline: 1.2, costPerHourOptimized: 0.36, reduction: 0.7, processes: 300 },
    extra,
  );
  return { timestamp, intervalStart: timestamp - 60, resources: [self] };
}

describe('hub OTLP receiver', () => {
  let hub: TestHub;
  let uid: string;
  before(async () => {
    hub = await startHub();
    const bytes = uuidv7();
    uid = uidToString(bytes);
    await post(hub, message({ uid: bytes, seq: 1, identifying: { 'service.name': 'nrdot-plus' }, nonIdentifying: { 'nrdot.fleet.labels.role': 'db', 'nrdot.fleet.labels.env': 'prod' } }));
  });
  after(async () => {
    await hub.close();
  });

  it('takes protobuf (gzip) and maps the agent\'s metrics to its KPIs', async () => {
    const t = Math.floor(Date.now() / 1000) - 120;
    const batch = batchFor(uid, t);
    const res = await fetch(`${hub.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body: gzipSync(encodeProtobuf(batch.resources, batch, 'delta')),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    const answer = fromBinary(ExportMetricsServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
    assert.equal(answer.partialSuccess, undefined);

    const kpis = (await hub.store.getAgent(uid))!.kpis!;
    assert.equal(kpis.timeMs, t * 1000);
    assert.equal(kpis.profile, 'balanced');
    assert.equal(kpis.costPerHourBaseline, 1.2);
    assert.equal(kpis.costPerHourOptimized, 0.36);
    assert.equal(kpis.reduction, 0.7);
    assert.equal(kpis.coverageCritical, 1);
    assert.equal(kpis.visibility, 0.97);
    assert.equal(kpis.datapointsBaseline, 1000);
    assert.equal(kpis.datapointsExported, 300);
    assert.ok(Math.abs(kpis.agentCpuPercent! - 1.5) < 1e-9, 'a share of a core shown as percent');
    assert.equal(kpis.agentRssBytes, 80e6);
    assert.deepEqual(kpis.shadowCostPerHour, { aggressive: 0.21 });
    assert.equal(kpis.extra['nrdot.hub.anomalies'], 2);
    assert.equal(kpis.extra['nrdot.process.series.baseline'], 1200);

    const points = await hub.store.agentKpis(uid, (t - 60) * 1000, (t + 60) * 1000);
    assert.equal(points.length, 1);
    assert.equal(points[0]!.values.reduction, 0.7);
    const fleet = await hub.store.fleetKpis((t - 60) * 1000, (t + 60) * 1000);
    assert.equal(fleet.length, 1);
    assert.equal(fleet[0]!.group, 'env=prod,role=db');
    assert.equal(fleet[0]!.profile, 'balanced');
  });

  it('takes OTLP JSON, keeps the newest interval in the registry, and rejects unknown agents', async () => {
    const t = Math.floor(Date.now() / 1000);
    const mine = batchFor(uid, t, 'aggressive');
    const stranger = batchFor(uidToString(uuidv7()), t);
    const json = toOtlpJson([...mine.resources, ...stranger.resources], mine, 'delta');
    const res = await fetch(`${hub.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { partialSuccess?: { rejectedDataPoints?: string; errorMessage?: string } };
    assert.ok(Number(body.partialSuccess?.rejectedDataPoints) > 0);
    assert.match(body.partialSuccess!.errorMessage!, /unknown agent/);
    const kpis = (await hub.store.getAgent(uid))!.kpis!;
    assert.equal(kpis.timeMs, t * 1000);
    assert.equal(kpis.profile, 'aggressive');

    // An older interval replayed from a queue does not replace the latest in the registry.
    const old = batchFor(uid, t - 600, 'conservative');
    const replay = await fetch(`${hub.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeProtobuf(old.resources, old, 'delta') });
    assert.equal(replay.status, 200);
    assert.equal((await hub.store.getAgent(uid))!.kpis!.profile, 'aggressive');
  });

  it('refuses what it cannot read, and keeps serving', async () => {
    const wrong = await fetch(`${hub.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(wrong.status, 415);
    const garbage = await fetch(`${hub.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics": 5' });
    assert.equal(garbage.status, 400);
    assert.match(await garbage.text(), /malformed/);
    const t = Math.floor(Date.now() / 1000);
    const b = batchFor(uid, t);
    const ok = await fetch(`${hub.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeProtobuf(b.resources, b, 'delta') });
    assert.equal(ok.status, 200);
    assert.ok(hub.opamp.metrics.otlpPointsAccepted > 0);
  });
});
