import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DIRECTIVES_FILE } from '../../fleet/directives.js';
import { desiredState } from './desired.js';
import type { FleetConfig, FleetPinRecord } from '../store/types.js';

const NOW = Date.UTC(2026, 11, 8, 12);
const config = (name: string, selector: string, priority: number, body = `profiles: {}\n# ${name}\n`): FleetConfig => ({
  name,
  selector,
  priority,
  opaque: false,
  body,
  contentType: 'text/yaml',
  by: 'token:admin',
  version: 1,
  hash: name,
  createdMs: NOW,
});
const pin = (id: number, selector: string, profile: string, ownerKind: FleetPinRecord['ownerKind'], until: number | null = null): FleetPinRecord => ({
  id,
  selector,
  profile,
  until,
  by: ownerKind,
  reason: `${ownerKind} ${id}`,
  ownerKind,
  ownerId: ownerKind === 'operator' ? null : 'r1',
  createdMs: NOW - 1000 * (10 - id),
});
const nrdot = (labels: Record<string, string>) => ({ kind: 'nrdot' as const, labels, description: { identifying: { 'service.name': 'nrdot-plus' }, nonIdentifying: {} } });

describe('desired state', () => {
  const configs = [config('zeta', 'role=db', 10), config('alpha', 'role=db', 10), config('base', '', 0), config('web-only', 'role=web', 5)];

  it('sends the configs that select the agent in applying order, then the directives', () => {
    const d = desiredState(nrdot({ role: 'db' }), configs, [], NOW);
    assert.deepEqual(Object.keys(d.configMap), ['fleet/00-base.yaml', 'fleet/01-alpha.yaml', 'fleet/02-zeta.yaml', DIRECTIVES_FILE]);
    assert.equal(d.configMap['fleet/01-alpha.yaml']!.body, configs[1]!.body, 'verbatim');
    assert.deepEqual(JSON.parse(d.configMap[DIRECTIVES_FILE]!.body), { pin: null, control_loop: null, rollout: null, experiment: null });
  });

  it('an operator pin beats a rollout pin; an expired pin is gone', () => {
    const pins = [pin(1, 'role=db', 'conservative', 'rollout'), pin(2, 'role=db', 'aggressive', 'operator', NOW / 1000 - 1), pin(3, 'env=prod', 'minimal', 'operator')];
    assert.equal(desiredState(nrdot({ role: 'db' }), [], pins, NOW).pin?.profile, 'conservative');
    assert.equal(desiredState(nrdot({ role: 'db', env: 'prod' }), [], pins, NOW).directives?.pin?.profile, 'minimal');
    assert.equal(desiredState(nrdot({ role: 'web' }), [], pins, NOW).pin, null);
  });

  it('the hash changes with what the agent gets, and only then', () => {
    const a = desiredState(nrdot({ role: 'db' }), configs, [], NOW);
    assert.equal(desiredState(nrdot({ role: 'db' }), [...configs].reverse(), [], NOW).hash, a.hash);
    assert.equal(desiredState(nrdot({ role: 'db' }), configs, [pin(4, 'role=web', 'minimal', 'operator')], NOW).hash, a.hash);
    assert.notEqual(desiredState(nrdot({ role: 'db' }), configs.slice(1), [], NOW).hash, a.hash);
    assert.notEqual(desiredState(nrdot({ role: 'db' }), configs, [pin(4, 'role=db', 'minimal', 'operator')], NOW).hash, a.hash);
  });

  it('other OpAMP agents get their configs as files and no directives', () => {
    const other = { kind: 'other' as const, labels: {}, description: { identifying: { 'service.name': 'otelcol' }, nonIdentifying: { 'os.type': 'linux' } } };
    const d = desiredState(other, [config('collector', 'os.type=linux', 0, 'receivers: {}\n')], [pin(1, '', 'minimal', 'operator')], NOW);
    assert.deepEqual(Object.keys(d.configMap), ['fleet/00-collector.yaml']);
    assert.equal(d.directives, null);
  });
});
