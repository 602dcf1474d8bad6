import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ExportMetricsServiceRequestSchema } from './gen/otlp_metrics_service_pb.js';
import { agentKpisOf, groupOf, kpiKey, parseRequest } from './kpis.js';

describe('OTLP metrics to KPIs', () => {
  it('maps the agent\'s metrics by name and attributes', () => {
    assert.deepEqual(kpiKey('nrdot.estimated.cost_per_hour', { kind: 'optimized' }), { key: 'costPerHourOptimized' });
    assert.equal(kpiKey('nrdot.estimated.cost_per_hour', { kind: 'other' }), null);
    assert.deepEqual(kpiKey('nrdot.agent.cpu.utilization', {}), { key: 'agentCpuPercent', scale: 100 });
    assert.deepEqual(kpiKey('nrdot.hub.shadow.cost_per_hour', { 'nrdot.profile': 'aggressive' }), { key: 'shadowCostPerHour.aggressive' });
    assert.deepEqual(kpiKey('nrdot.hub.export.failures', { exporter: 'otlp', b: 1 }), { key: 'nrdot.hub.export.failures{b=1,exporter=otlp}' });
    assert.equal(kpiKey('process.cpu.time', {}), null, 'not the hub\'s');
  });

  it('builds the registry\'s KPIs and the fleet group', () => {
    const k = agentKpisOf({ timeMs: 5, profile: null, values: { reduction: 0.6, 'shadowCostPerHour.minimal': 0.1, 'nrdot.hub.x': 3 } }, 'balanced');
    assert.equal(k.profile, 'balanced');
    assert.equal(k.reduction, 0.6);
    assert.equal(k.costPerHourBaseline, null);
    assert.deepEqual(k.shadowCostPerHour, { minimal: 0.1 });
    assert.deepEqual(k.extra, { 'nrdot.hub.x': 3 });
    assert.equal(groupOf({ role: 'db', env: 'prod' }), 'env=prod,role=db');
    assert.equal(groupOf({}), '');
  });
});

describe('an agent\'s own metrics', () => {
  const point = (value: number, attrs: Record<string, string> = {}) => ({
    timeUnixNano: 60_000_000_000n,
    value: { case: 'asDouble' as const, value },
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { value: { case: 'stringValue' as const, value: v } } })),
  });
  const gauge = (name: string, ...points: ReturnType<typeof point>[]) => ({ name, data: { case: 'gauge' as const, value: { dataPoints: points } } });
  const request = (...metrics: ReturnType<typeof gauge>[]) =>
    create(ExportMetricsServiceRequestSchema, {
      resourceMetrics: [{ resource: { attributes: [{ key: 'service.instance.id', value: { value: { case: 'stringValue', value: 'u1' } } }] }, scopeMetrics: [{ metrics }] }],
    });

  it('become the KPIs: self-metrics, hub-only figures, shadow costs; other nrdot.hub.* are extras, the rest ignored', () => {
    const [r] = parseRequest(
      request(
        gauge('nrdot.estimated.cost_per_hour', point(2, { kind: 'baseline' }), point(0.5, { kind: 'optimized' })),
        gauge('nrdot.optimization.reduction', point(0.75)),
        gauge('nrdot.process.coverage.critical', point(1)),
        gauge('nrdot.profile.active', point(1, { 'nrdot.profile': 'aggressive' })),
        gauge('nrdot.hub.datapoints', point(400, { kind: 'baseline' }), point(100, { kind: 'exported' })),
        gauge('nrdot.hub.shadow.cost_per_hour', point(0.3, { 'nrdot.profile': 'minimal' })),
        gauge('nrdot.hub.anomalies', point(2)),
        gauge('process.cpu.time', point(5)),
      ),
    );
    assert.equal(r!.instanceUid, 'u1');
    assert.equal(r!.points, 10);
    const iv = r!.intervals[0]!;
    assert.equal(iv.timeMs, 60_000);
    assert.equal(iv.profile, 'aggressive');
    assert.deepEqual(iv.values, {
      costPerHourBaseline: 2,
      costPerHourOptimized: 0.5,
      reduction: 0.75,
      coverageCritical: 1,
      datapointsBaseline: 400,
      datapointsExported: 100,
      'shadowCostPerHour.minimal': 0.3,
      'nrdot.hub.anomalies': 2,
    });
  });
});
