import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentKpisOf, groupOf, kpiKey } from './kpis.js';

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
