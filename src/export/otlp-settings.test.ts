import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig, parseConfig } from '../config/index.js';
import { parseHeaders, resolveOtlp, type OtlpSettings } from './otlp-settings.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-otlp-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = 'eu01xx0123456789abcdef0123456789abcdNRAL';
const US_KEY = '0123456789abcdef0123456789abcdef0123NRAL';

function on(env: Record<string, string>, yaml?: string): OtlpSettings {
  const config = yaml ? parseConfig(yaml, 'test.yaml') : defaultConfig();
  const r = resolveOtlp(config, 60, { NRDOT_DATA_DIR: dir, ...env });
  assert.ok(r.enabled, 'OTLP export is on');
  return r.settings;
}

function error(env: Record<string, string>, yaml?: string): string {
  const config = yaml ? parseConfig(yaml, 'test.yaml') : defaultConfig();
  try {
    resolveOtlp(config, 60, { NRDOT_DATA_DIR: dir, ...env });
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected an error');
}

describe('OTLP exporter settings', () => {
  it('is off, saying why, with no endpoint and no license key', () => {
    const r = resolveOtlp(defaultConfig(), 60, {});
    assert.equal(r.enabled, false);
    assert.match(!r.enabled ? r.reason : '', /no endpoint .*OTEL_EXPORTER_OTLP_ENDPOINT.* and no NEW_RELIC_LICENSE_KEY/);
  });

  it('sends to New Relic with the license key in api-key: US by default, EU for an EU key or on request', () => {
    const us = on({ NEW_RELIC_LICENSE_KEY: US_KEY });
    assert.equal(us.url, 'https://otlp.nr-data.net/v1/metrics');
    assert.equal(us.headers['api-key'], US_KEY);
    assert.equal(on({ NEW_RELIC_LICENSE_KEY: KEY }).url, 'https://otlp.eu01.nr-data.net/v1/metrics');
    assert.equal(on({ NEW_RELIC_LICENSE_KEY: US_KEY }, 'exporters: { otlp: { newrelic: eu } }').url, 'https://otlp.eu01.nr-data.net/v1/metrics');
    assert.equal(on({ NEW_RELIC_LICENSE_KEY: KEY }, 'exporters: { otlp: { newrelic: us } }').url, 'https://otlp.nr-data.net/v1/metrics');
    assert.deepEqual([us.compression, us.temporality, us.timeoutMs], ['gzip', 'delta', 10_000]);
    assert.equal(us.queueDir, join(dir, 'queue'));
  });

  it('follows the OpenTelemetry variables: signal-specific over general over the config file', () => {
    assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url, 'http://collector:4318/v1/metrics');
    assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://gw/otlp/' }).url, 'http://gw/otlp/v1/metrics');
    assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://b:9/custom' }).url, 'http://b:9/custom');
    assert.equal(on({}, 'exporters: { otlp: { endpoint: "https://c.example" } }').url, 'https://c.example/v1/metrics');
    assert.equal(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' }, 'exporters: { otlp: { endpoint: "https://c.example" } }').url, 'http://env:4318/v1/metrics');
    const s = on({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=core,X-Scope=a%20b',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-team=metrics',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'cumulative',
    }, 'exporters: { otlp: { headers: { x-from-file: "1" } } }');
    assert.deepEqual(s.headers, { 'x-from-file': '1', 'x-team': 'metrics', 'x-scope': 'a b' });
    assert.deepEqual([s.compression, s.timeoutMs, s.temporality], ['none', 2500, 'cumulative']);
    const nr = on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.internal', NEW_RELIC_LICENSE_KEY: US_KEY });
    assert.equal(nr.url, 'https://gateway.internal/v1/metrics', 'an explicit endpoint wins over the New Relic preset');
    assert.equal(nr.headers['api-key'], US_KEY);
  });

  it('keeps an api-key header given explicitly, and warns when a key would travel over plain http', () => {
    const explicit = on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=other-key', NEW_RELIC_LICENSE_KEY: US_KEY });
    assert.equal(explicit.headers['api-key'], 'other-key');
    assert.deepEqual(explicit.warnings, []);
    const plain = on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example:4318', NEW_RELIC_LICENSE_KEY: US_KEY });
    assert.match(plain.warnings[0] ?? '', /api-key goes to collector\.example:4318 over plain http/);
    assert.ok(!plain.warnings[0]!.includes(US_KEY));
    assert.deepEqual(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', NEW_RELIC_LICENSE_KEY: US_KEY }).warnings, []);
  });

  it('bounds the splay by the collection interval', () => {
    const config = parseConfig('exporters: { otlp: { splay: 5m } }', 'test.yaml');
    const r = resolveOtlp(config, 10, { NEW_RELIC_LICENSE_KEY: US_KEY });
    assert.equal(r.enabled && r.settings.splayMs, 10_000);
  });

  it('names the variable or field of a bad value, and never quotes a header value', () => {
    assert.match(error({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /^OTEL_EXPORTER_OTLP_ENDPOINT: collector: is not supported/);
    assert.match(error({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }), /^OTEL_EXPORTER_OTLP_ENDPOINT: not a URL/);
    assert.match(error({}, 'exporters: { otlp: { endpoint: "ftp://x" } }'), /^exporters\.otlp\.endpoint: ftp: is not supported/);
    assert.match(error({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', NEW_RELIC_LICENSE_KEY: US_KEY }), /OTEL_EXPORTER_OTLP_PROTOCOL=grpc: only http\/protobuf/);
    assert.match(error({ OTEL_EXPORTER_OTLP_TIMEOUT: '10s', NEW_RELIC_LICENSE_KEY: US_KEY }), /OTEL_EXPORTER_OTLP_TIMEOUT: must be a number of milliseconds from 1 to 300000/);
    assert.match(error({ OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd', NEW_RELIC_LICENSE_KEY: US_KEY }), /OTEL_EXPORTER_OTLP_COMPRESSION: must be gzip or none/);
    const headers = error({ OTEL_EXPORTER_OTLP_HEADERS: `api-key=${KEY},${KEY}`, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a' });
    assert.match(headers, /^OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value/);
    assert.ok(!headers.includes(KEY));
    const broken = error({ OTEL_EXPORTER_OTLP_HEADERS: `x-token=${KEY}%0D%0Ainjected`, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a' });
    assert.match(broken, /^OTEL_EXPORTER_OTLP_HEADERS: header "x-token": its value has characters a header cannot carry/);
    assert.ok(!broken.includes(KEY));
    assert.match(error({ OTEL_EXPORTER_OTLP_TIMEOUT: '3600000', NEW_RELIC_LICENSE_KEY: US_KEY }), /OTEL_EXPORTER_OTLP_TIMEOUT: must be a number of milliseconds from 1 to 300000 \(5 minutes\)/);
    assert.throws(() => parseConfig('exporters: { otlp: { retry: { initial_interval: 1s, max_interval: 1000h } } }', 'test.yaml'), /test\.yaml:1: .*exporters\.otlp\.retry\.max_interval: must be from 1 ms to 1 h/);
    const missing = join(dir, 'no-such-ca.pem');
    assert.equal(error({ OTEL_EXPORTER_OTLP_CERTIFICATE: missing, NEW_RELIC_LICENSE_KEY: US_KEY }), `OTEL_EXPORTER_OTLP_CERTIFICATE: ${missing}: no such file`);
    const pem = join(dir, 'client.pem');
    writeFileSync(pem, 'x');
    assert.match(error({ OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pem, NEW_RELIC_LICENSE_KEY: US_KEY }), /CLIENT_CERTIFICATE and .*CLIENT_KEY .* go together/);
  });

  it('parses header lists leniently where the specification allows it', () => {
    assert.deepEqual(parseHeaders(' a = 1 , ,b=x=y', 'V'), { a: '1', b: 'x=y' });
  });
});
