import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../config/index.js';
import { DIRECTIVES_LAYER, fleetFragments, parseFleetLayer } from './fleet-layer.js';
import { profileInForce } from './profiles.js';

describe('fleet layer', () => {
  it('orders fragments by NN, reads the directives, ignores entries not ours', () => {
    const l = parseFleetLayer({
      'fleet/10-z.yaml': 'a: 1\n',
      'fleet/02-b.yaml': 'b: 1\n',
      'fleet/02-a.yaml': 'c: 1\n',
      'nrdot-fleet.json': JSON.stringify({ pin: { profile: 'minimal', until: null, by: 'ops', reason: 'x' }, control_loop: 'off' }),
      'collector.yaml': 'receivers: {}',
    });
    assert.deepEqual(l.fragments.map((f) => f.name), ['fleet/02-a.yaml', 'fleet/02-b.yaml', 'fleet/10-z.yaml']);
    assert.equal(l.directives.pin?.profile, 'minimal');
    assert.deepEqual(l.ignored, ['collector.yaml']);
    const withSwitch = fleetFragments(l);
    assert.equal(withSwitch.at(-1)!.name, DIRECTIVES_LAYER);
    assert.match(withSwitch.at(-1)!.text, /enabled: false/);
  });

  it('refuses forbidden keys, bad directives and misnamed fragments, naming the entry', () => {
    assert.throws(() => parseFleetLayer({ 'fleet/00-x.yaml': 'server:\n  listen: 0.0.0.0:1\n' }), /fleet\/00-x\.yaml: server: a fleet configuration may not set this key/);
    assert.throws(() => parseFleetLayer({ 'fleet/00-x.yaml': 'exporters:\n  otlp:\n    headers: {a: b}\n' }), /exporters\.otlp\.headers/);
    assert.throws(() => parseFleetLayer({ 'nrdot-fleet.json': '{"pin": {"profile": ""}, "control_loop": "maybe"}' }), /nrdot-fleet\.json: pin\./);
    assert.throws(() => parseFleetLayer({ 'nrdot-fleet.json': '{' }), /nrdot-fleet\.json: not JSON/);
    assert.throws(() => parseFleetLayer({ 'fleet/base.yaml': 'a: 1' }), /fleet\/NN-NAME\.yaml/);
  });
});

describe('profile precedence with a fleet pin', () => {
  const config = defaultConfig();
  config.advanced.time_based_rules = [{ name: 'always', schedule: '00:00-24:00', profile: 'conservative' }];
  const now = 1_800_000_000;
  const fleet = { profile: 'aggressive', until: null, by: 'ops', reason: 'canary' };
  const local = { profile: 'minimal', until: null, since: now - 10, who: 'me', reason: 'x' };

  it('local pin > emergency guard > fleet pin > schedule > stored', () => {
    assert.equal(profileInForce({ active: 'balanced', pin: local }, config, now, true, fleet).source, 'pin');
    assert.equal(profileInForce({ active: 'emergency', pin: null }, config, now, true, fleet).source, 'emergency guard');
    const f = profileInForce({ active: 'balanced', pin: null }, config, now, false, fleet);
    assert.deepEqual([f.profile, f.source, f.fleetPin?.by], ['aggressive', 'fleet pin', 'ops']);
    assert.equal(profileInForce({ active: 'balanced', pin: null }, config, now, false, null).source, 'schedule');
    const expired = profileInForce({ active: 'balanced', pin: null }, config, now, false, { ...fleet, until: now - 1 });
    assert.deepEqual([expired.source, expired.fleetPin], ['schedule', null]);
    const unknown = profileInForce({ active: 'balanced', pin: null }, config, now, false, { ...fleet, profile: 'gone' });
    assert.equal(unknown.source, 'schedule');
    assert.match(unknown.note!, /fleet pin: profile "gone"/);
  });
});
