/** The `fleet` section: key=value lists, labels, env variables, layering with fleet fragments, redaction. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfigAt } from './load.js';
import type { ConfigLocation } from './paths.js';
import { parseKeyValues } from './schema.js';
import { redactConfig, Redactor } from './secrets.js';

const scratch = mkdtempSync(join(tmpdir(), 'nrdot-fleet-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const SECRET = 'enroll-0123456789abcdef';

function at(text: string): ConfigLocation {
  const path = join(scratch, `c-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return { path, explicit: true, source: '--config' };
}

describe('fleet configuration', () => {
  it('parses k=v,k=v lists (values percent-decoded) and names a malformed entry by its key only', () => {
    assert.deepEqual(parseKeyValues('env=prod, role=db'), { env: 'prod', role: 'db' });
    assert.deepEqual(parseKeyValues('authorization=Bearer%20abc%3D'), { authorization: 'Bearer abc=' });
    assert.match(parseKeyValues('a=1,novalue') as string, /entry 2 of 2 is not key=value/);
  });

  it('takes the endpoint, headers, labels and TLS files from the environment; off by default', () => {
    const none = loadConfigAt(at(''), {});
    assert.equal(none.config.fleet.endpoint, '');
    const { config, env } = loadConfigAt(at('fleet:\n  labels:\n    env: dev\n'), {
      NRDOT_OPAMP_ENDPOINT: 'wss://hub.example:4320/v1/opamp',
      NRDOT_OPAMP_HEADERS: `authorization=Bearer ${SECRET}`,
      NRDOT_FLEET_LABELS: 'env=prod,role=db',
      NRDOT_OPAMP_CERTIFICATE: '/etc/ca.pem',
    });
    assert.equal(config.fleet.endpoint, 'wss://hub.example:4320/v1/opamp');
    assert.deepEqual(config.fleet.headers, { authorization: `Bearer ${SECRET}` });
    assert.deepEqual(config.fleet.labels, { env: 'prod', role: 'db' }, 'the environment over the file');
    assert.equal(config.fleet.certificate, '/etc/ca.pem');
    assert.deepEqual(env.map((e) => e.name).sort(), ['NRDOT_FLEET_LABELS', 'NRDOT_OPAMP_CERTIFICATE', 'NRDOT_OPAMP_ENDPOINT', 'NRDOT_OPAMP_HEADERS']);
  });

  it('refuses a bad endpoint, label or header list, naming the variable and never quoting a header value', () => {
    assert.throws(() => loadConfigAt(at(''), { NRDOT_OPAMP_ENDPOINT: 'ftp://hub' }), (e: ConfigError) => /NRDOT_OPAMP_ENDPOINT: must be empty \(off\) or an http\(s\):\/\/ or ws\(s\):\/\/ URL/.test(e.message) && e.exitCode === 2);
    assert.throws(() => loadConfigAt(at(''), { NRDOT_FLEET_LABELS: 'role=db cluster' }), /NRDOT_FLEET_LABELS: .*label value "db cluster"/);
    assert.throws(
      () => loadConfigAt(at(''), { NRDOT_OPAMP_HEADERS: `authorization Bearer ${SECRET}` }),
      (e: ConfigError) => e.message.startsWith('NRDOT_OPAMP_HEADERS:') && !e.message.includes(SECRET),
    );
  });

  it('layers fleet fragments between the file and the environment, in the order given, naming a fragment in its errors', () => {
    const file = at('control_loop:\n  target_reduction: 0.5\n  max_series: 1500\n');
    const fragments = [
      { name: 'fleet/00-a.yaml', text: 'control_loop:\n  target_reduction: 0.6\n  target_series: 900\n' },
      { name: 'fleet/01-b.yaml', text: 'control_loop:\n  target_reduction: 0.65\n' },
    ];
    const c = loadConfigAt(file, {}, fragments).config;
    assert.deepEqual([c.control_loop.target_reduction, c.control_loop.target_series, c.control_loop.max_series], [0.65, 900, 1500]);
    assert.equal(loadConfigAt(file, { NRDOT_TARGET_REDUCTION: '0.7' }, fragments).config.control_loop.target_reduction, 0.7);
    assert.throws(() => loadConfigAt(file, {}, [{ name: 'fleet/02-bad.yaml', text: '\nstate:\n  active_profile: nope\n' }]), /fleet\/02-bad\.yaml:3: state\.active_profile: no profile named "nope"/);
    assert.throws(() => loadConfigAt(file, {}, [{ name: 'fleet/03-syntax.yaml', text: 'a: [' }]), /fleet\/03-syntax\.yaml:1: YAML syntax error/);
  });

  it('redacts the headers in config show and everywhere the Redactor scrubs', () => {
    const { config } = loadConfigAt(at(''), { NRDOT_OPAMP_ENDPOINT: 'https://user:pw-secret-1@hub.example/v1/opamp', NRDOT_OPAMP_HEADERS: `authorization=Bearer ${SECRET}` });
    const shown = JSON.stringify(redactConfig(config));
    assert.ok(!shown.includes(SECRET) && !shown.includes('pw-secret-1'), shown);
    const r = Redactor.of(config, { NRDOT_OPAMP_HEADERS: `authorization=Bearer ${SECRET}` });
    assert.ok(!r.scrub(`failed with token ${SECRET} and ${Buffer.from(SECRET).toString('base64')}`).includes(SECRET));
  });
});
