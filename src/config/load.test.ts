import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, defaultConfig, loadConfigAt, parseConfig } from './load.js';
import { configLocation } from './paths.js';
import { redactConfig } from './secrets.js';

// Compiled tests run from dist/; the YAML files stay in the source tree.
const TESTDATA = fileURLToPath(new URL('../../../src/config/testdata/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'nrdot-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function load(name: string) {
  const file = join(TESTDATA, name);
  return { file, parse: () => parseConfig(readFileSync(file, 'utf8'), file) };
}

describe('shipped defaults', () => {
  it('hold the SPEC tiers in evaluation order and the five profiles', () => {
    const c = defaultConfig();
    assert.deepEqual(Object.keys(c.profiles), ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency']);
    const tiers = Object.keys(c.process_classification);
    assert.ok(tiers.indexOf('noise') < tiers.indexOf('critical_system'));
    assert.ok(tiers.indexOf('db_session') < tiers.indexOf('database'), 'db_session is more specific than database');
    assert.ok(tiers.indexOf('message_queue') < tiers.indexOf('application'), 'beam.smp with rabbit before beam.smp');
    assert.equal(c.process_classification.critical_system!.score, 1);
    assert.equal(c.cost_model.billing_model, 'bytes');
    assert.equal(c.cost_model.per_gb, 0.3);
    assert.equal(c.profiles.balanced!.limits.max_series_per_host, 5000);
    assert.equal(c.profiles.emergency!.anomaly.retention_minutes, 0);
    assert.equal(c.profiles.emergency!.command_lines, false);
  });
});

describe('valid files', () => {
  for (const name of readdirSync(join(TESTDATA, 'valid'))) {
    it(`loads ${name}`, () => {
      const config = load(join('valid', name)).parse();
      assert.ok(config.profiles[config.state.active_profile]);
    });
  }

  it('merges a user file over the defaults and resolves custom profiles', () => {
    const c = load('valid/custom-tiers-and-profiles.yaml').parse();
    assert.equal(c.cost_model.billing_model, 'datapoints');
    assert.equal(c.cost_model.per_million_datapoints, 0.25, 'untouched defaults stay');
    assert.deepEqual(Object.keys(c.custom_classification), ['business_critical', 'compliance_required', 'development']);
    const weekend = c.profiles.weekend!;
    assert.equal(weekend.limits.max_series_per_host, 800);
    assert.equal(weekend.thresholds.cpu_threshold_percent, 20, 'inherited from aggressive');
    assert.equal(c.profiles.peak_hours!.thresholds.cpu_threshold_percent, 5);
    assert.equal(c.profiles.peak_hours!.thresholds.memory_threshold_mb, c.profiles.balanced!.thresholds.memory_threshold_mb, 'extends balanced by default');
    assert.equal(c.state.active_profile, 'weekend');
  });
});

describe('invalid files', () => {
  for (const name of readdirSync(join(TESTDATA, 'invalid'))) {
    it(`rejects ${name} naming the file, field and line`, () => {
      const { file, parse } = load(join('invalid', name));
      const expected = /^# expect: (.*)$/m.exec(readFileSync(file, 'utf8'))![1]!;
      assert.throws(parse, (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.message.startsWith(file + expected.slice(0, expected.indexOf(':') + 1)), err.message);
        assert.ok(err.message.includes(expected.slice(expected.indexOf(':') + 1).trim()), `${err.message}\n  should include: ${expected}`);
        return true;
      });
    });
  }
});

describe('shadow profiles', () => {
  it('default to the five built-in profiles; a custom profile may be one, and [] turns them off', () => {
    assert.deepEqual(defaultConfig().advanced.shadow_profiles, ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency']);
    const custom = parseConfig('custom_profiles: { lean: { extends: aggressive } }\nadvanced: { shadow_profiles: [lean, balanced] }\n', 'x.yaml');
    assert.deepEqual(custom.advanced.shadow_profiles, ['lean', 'balanced']);
    assert.deepEqual(parseConfig('advanced: { shadow_profiles: [] }\n', 'x.yaml').advanced.shadow_profiles, []);
  });
});

describe('tier order', () => {
  it('evaluates tiers a user adds to process_classification before the shipped ones', () => {
    const c = parseConfig('process_classification:\n  payments_jvm: { score: 0.95, rules: [{ name: "^java$", cmdline: "payments" }] }\n', 'x.yaml');
    assert.equal(Object.keys(c.process_classification)[0], 'payments_jvm');
    assert.ok(Object.keys(c.process_classification).indexOf('application') > 0);
  });
});

describe('locations', () => {
  it('takes --config over NRDOT_CONFIG over the default location', () => {
    assert.deepEqual(configLocation('/a.yaml', { NRDOT_CONFIG: '/b.yaml' }), { path: '/a.yaml', explicit: true, source: '--config' });
    assert.equal(configLocation(undefined, { NRDOT_CONFIG: '/b.yaml' }).path, '/b.yaml');
    assert.equal(configLocation(undefined, { NRDOT_DATA_DIR: '/data' }).path, '/data/optimization.yaml');
  });

  it('names a missing file that was asked for, and falls back to defaults otherwise', () => {
    const missing = join(scratch, 'missing.yaml');
    assert.throws(() => loadConfigAt({ path: missing, explicit: true, source: 'NRDOT_CONFIG' }), new RegExp(`${missing}: no such file \\(from NRDOT_CONFIG\\)`));
    const fallback = loadConfigAt({ path: missing, explicit: false, source: 'default location' });
    assert.equal(fallback.file, null);
    assert.equal(fallback.config.state.active_profile, 'balanced');
  });
});

describe('webhooks', () => {
  it('takes a url and an optional secret for each of the five events', () => {
    const c = load('valid/webhooks.yaml').parse();
    assert.deepEqual(Object.keys(c.webhooks), ['profile_change', 'rollback', 'budget_exceeded', 'series_exceeded', 'coverage_violation']);
    assert.equal(c.webhooks.profile_change!.secret, 'change-me');
    assert.equal(c.webhooks.budget_exceeded!.secret, undefined);
    assert.deepEqual(defaultConfig().webhooks, {}, 'none by default');
  });

  it('names an unknown event and lists the events there are', () => {
    assert.throws(
      () => parseConfig('webhooks:\n  profile_chnage: { url: "https://hooks.example.com/x" }\n', 'w.yaml'),
      { message: 'w.yaml:2: webhooks.profile_chnage: unknown event; events: profile_change, rollback, budget_exceeded, series_exceeded, coverage_violation' },
    );
  });

  it('names a url that is not http(s), without quoting it (it may be a credential)', () => {
    for (const url of ['ftp://hooks.example.com/T0/SECRETPATH', 'hooks.example.com/T0/SECRETPATH']) {
      assert.throws(
        () => parseConfig(`webhooks: { rollback: { url: "${url}" } }\n`, 'w.yaml'),
        (err: Error) => {
          assert.match(err.message, /^w\.yaml:1: webhooks\.rollback\.url: must be empty \(off\) or an http\(s\) URL such as https:\/\/hooks\.example\.com\/nrdot \(got /);
          assert.ok(!err.message.includes('SECRETPATH'), err.message);
          return true;
        },
      );
    }
  });
});

describe('redaction', () => {
  it('hides webhook secrets and URLs, every header value and credentials in endpoints', () => {
    const file = join(scratch, 'secrets.yaml');
    writeFileSync(
      file,
      'webhooks: { profile_change: { url: "https://hooks.slack.com/services/T0/B0/XYZSECRET", secret: "s3cr3t" } }\n' +
        'exporters: { otlp: { endpoint: "https://user:PASSW0RD@collector.example:4318", headers: { api-key: "NRAK-123", x-honeycomb-team: HONEYSECRET } } }\n',
    );
    const shown = redactConfig(loadConfigAt({ path: file, explicit: true, source: '--config' }).config);
    const text = JSON.stringify(shown);
    for (const secret of ['s3cr3t', 'NRAK-123', 'HONEYSECRET', 'XYZSECRET', 'PASSW0RD']) assert.ok(!text.includes(secret), secret);
    assert.equal(shown.webhooks.profile_change!.url, 'https://hooks.slack.com/***');
    assert.equal(shown.exporters.otlp.endpoint, 'https://***@collector.example:4318/');
    assert.deepEqual(Object.keys(shown.exporters.otlp.headers!), ['api-key', 'x-honeycomb-team'], 'the names stay: they say what is set');
  });
});
