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

describe('the agent\'s hub-only aliases', () => {
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

  it('fill the KPIs when the self-metrics are absent, and are not extras', () => {
    const [r] = parseRequest(
      request(
        gauge('nrdot.hub.cost_per_hour', point(2, { kind: 'baseline' }), point(0.5, { kind: 'optimized' })),
        gauge('nrdot.hub.reduction', point(0.75)),
        gauge('nrdot.hub.coverage.critical', point(1)),
        gauge('nrdot.hub.profile', point(1, { 'nrdot.profile': 'aggressive' })),
      ),
    );
    assert.equal(r!.instanceUid, 'u1');
    assert.equal(r!.points, 5);
    const iv = r!.intervals[0]!;
    assert.equal(iv.timeMs, 60_000);
    assert.equal(iv.profile, 'aggressive');
    assert.deepEqual(iv.values, { costPerHourBaseline: 2, costPerHourOptimized: 0.5, reduction: 0.75, coverageCritical: 1 });
  });

  it('give way to the self-metrics', () => {
    const [r] = parseRequest(
      request(
        gauge('nrdot.hub.reduction', point(0.75)),
        gauge('nrdot.optimization.reduction', point(0.6)),
        gauge('nrdot.hub.profile', point(1, { 'nrdot.profile': 'aggressive' })),
        gauge('nrdot.profile.active', point(1, { 'nrdot.profile': 'balanced' })),
      ),
    );
    assert.equal(r!.intervals[0]!.values.reduction, 0.6);
    assert.equal(r!.intervals[0]!.profile, 'balanced');
  });
});
