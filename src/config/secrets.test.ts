import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, parseConfig } from './index.js';
import { MIN_SECRET_LENGTH, redactUrl, Redactor } from './secrets.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

const config = parseConfig(
  [
    'exporters: { otlp: { endpoint: "https://otlp.example:4318/?token=QUERYTOKEN1", headers: { x-honeycomb-team: HONEYSECRET, authorization: "Bearer BEARERTOKEN77", short: abc } } }',
    'webhooks: { profile_change: { url: "https://hooks.slack.com/services/T0/B0/XYZSECRET0123456789ab", secret: WEBHOOKSECRET }, rollback: { url: "http://hookuser:HOOKPASS99@hooks.example.com/" } }',
  ].join('\n'),
  'optimization.yaml',
);
const env = {
  NEW_RELIC_LICENSE_KEY: ' LicenseKey42NRAL ',
  OTEL_EXPORTER_OTLP_HEADERS: 'api-key=HEADER%2CKEY,x-other=OTHERVALUE',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://collector.example/v1/metrics?sig=SIGNATURE9',
  HTTPS_PROXY: 'http://proxyuser:PROXYPASS@proxy.example:3128',
  NRDOT_DATA_DIR: '/var/lib/nrdot-plus',
};

describe('Redactor', () => {
  const r = Redactor.of(config, env);

  it('hides every secret of the configuration and the environment', () => {
    for (const s of ['QUERYTOKEN1', 'HONEYSECRET', 'BEARERTOKEN77', 'XYZSECRET0123456789ab', 'WEBHOOKSECRET', 'HOOKPASS99', 'LicenseKey42NRAL', 'HEADER%2CKEY', 'HEADER,KEY', 'OTHERVALUE', 'SIGNATURE9', 'PROXYPASS']) {
      assert.equal(r.scrub(`said ${s}.`), 'said ***.', s);
    }
    // The path of a webhook URL is its credential; hosts, a user beside a password and plain settings are not secrets.
    assert.equal(r.scrub('Cannot POST /services/T0/B0/XYZSECRET0123456789ab'), 'Cannot POST ***');
    for (const plain of ['otlp.example', 'hooks.slack.com', 'services', 'proxyuser', '/var/lib/nrdot-plus', 'abc']) assert.equal(r.scrub(plain), plain);
    assert.equal(r.scrub(`${'abc'} is shorter than ${MIN_SECRET_LENGTH}`), 'abc is shorter than 4', 'short values are not searched for');
  });

  it('hides them in any case, JSON-escaped, percent-encoded and base64-encoded, user:pass too', () => {
    const key = 'LicenseKey42NRAL';
    for (const form of [key.toLowerCase(), key.toUpperCase(), encodeURIComponent('HEADER,KEY'), b64(key), b64(key).replace(/=+$/, ''), b64('hookuser:HOOKPASS99'), b64('BEARERTOKEN77')]) {
      assert.equal(r.scrub(`[${form}]`), '[***]', form);
    }
    const quoted = Redactor.of(parseConfig('webhooks: { rollback: { url: "http://127.0.0.1:9/x", secret: "s3cr\\"et\\\\x" } }', 'f.yaml'), {});
    assert.equal(quoted.scrub(JSON.stringify({ m: 'is s3cr"et\\x' })), '{"m":"is ***"}');
  });

  it('replaces a secret containing another whole', () => {
    const nested = new Redactor().add(['TOKEN', 'TOKEN-LONGER']);
    assert.equal(nested.scrub('a TOKEN-LONGER and a token, TOKEN'), 'a *** and a ***, ***');
  });

  it('hides credentials it was never told about: credential headers, Bearer and Basic, URL user info and queries', () => {
    const none = new Redactor();
    const cases: Array<[string, string]> = [
      ['Authorization: Bearer abcdefgh12345', 'Authorization: Bearer ***'],
      ['{"authorization":"Basic dXNlcjpwYXNz","x":1}', '{"authorization":"Basic ***","x":1}'],
      ['{\\"api-key\\":\\"0123456789NRAL\\"}', '{\\"api-key\\":\\"***\\"}'],
      ['headers api-key=k1k2k3k4,x-api-key: zzzz', 'headers api-key=***,x-api-key: ***'],
      ['got bearer abcdefgh12345 here', 'got bearer *** here'],
      [`echo Basic ${b64('u:p')}`, 'echo Basic ***'],
      ['see https://user:pw@host.example:4318/v1/metrics?k=QUERY&x=1 now', 'see https://***@host.example:4318/v1/metrics?*** now'],
      ['"otlp_endpoint":"http://127.0.0.1:4318/v1/metrics?k=abc"', '"otlp_endpoint":"http://127.0.0.1:4318/v1/metrics?***"'],
      ['sending to http://h:4318/v1/metrics?k=abc; then (see http://h/?q=1).', 'sending to http://h:4318/v1/metrics?***; then (see http://h/?***).'],
    ];
    for (const [text, shown] of cases) assert.equal(none.scrub(text), shown, text);
    // Text that only looks like it stays: words, a Basic that is no user:pass, URLs without credentials.
    for (const text of [
      'the api-key goes to example.com over plain http (unencrypted); use https',
      'Basic setup done',
      `Basic ${b64('no colon here')}`,
      'send Authorization: Bearer <token from the data directory\'s api-token>',
      'Prometheus metrics at http://127.0.0.1:8887/metrics, API at /api/v1',
      '{"level":30,"processes":412,"msg":"collected 412 processes in 4.2 ms; balanced: 203 of 2884 datapoints (-93.0%)"}',
    ]) {
      assert.equal(none.scrub(text), text);
    }
  });

  it('hides the value of every configured header, by name', () => {
    assert.equal(r.scrub('x-honeycomb-team: other-value'), 'x-honeycomb-team: ***');
  });

  it('is idempotent, so that an answer scrubbed twice reads the same', () => {
    const text = 'https://***@h/?*** Authorization: Bearer *** LicenseKey42NRAL';
    assert.equal(r.scrub(r.scrub(text)), r.scrub(text));
    assert.equal(r.scrub(text), 'https://***@h/?*** Authorization: Bearer *** ***');
  });

  it('learns the secrets of a reloaded configuration and keeps the earlier ones', () => {
    const reloading = Redactor.of(defaultConfig(), {});
    assert.equal(reloading.scrub('NEWSECRET1'), 'NEWSECRET1');
    reloading.addConfig(parseConfig('webhooks: { rollback: { url: "http://127.0.0.1:9/", secret: NEWSECRET1 } }', 'f.yaml'), {});
    reloading.addConfig(defaultConfig(), {});
    assert.equal(reloading.scrub('NEWSECRET1'), '***');
  });
});

describe('Redactor on hostile text', () => {
  it('scrubs 100 KB lines built against its patterns in linear time', () => {
    // A log line may quote anything (a command line, a backend's answer). Each of these took 7 to 50 s
    // with a pattern that could match the same characters two ways; linear, each takes milliseconds.
    const n = 100_000;
    const r = new Redactor();
    for (const [name, text] of Object.entries({
      'dotted words before "://"': `x:// ${'a.'.repeat(n / 2)}`,
      'a header name and spaces': `api-key:${' '.repeat(n)},`,
      'a query of punctuation': `http://h/?${'.'.repeat(n)}x`,
      'Bearer and spaces': `${'bearer '.padEnd(17)}`.repeat(n / 17),
    })) {
      const start = performance.now();
      r.scrub(text);
      const ms = performance.now() - start;
      assert.ok(ms < 1000, `${name}: ${ms.toFixed(0)} ms`);
    }
  });
});

describe('redactUrl', () => {
  it('masks user info and query, keeps the rest', () => {
    assert.equal(redactUrl('https://u:p@collector.example:4318/v1/metrics?k=SECRET'), 'https://***@collector.example:4318/v1/metrics?***');
    assert.equal(redactUrl('https://otlp.nr-data.net/v1/metrics'), 'https://otlp.nr-data.net/v1/metrics');
    assert.equal(redactUrl('not a url SECRET'), '***');
  });
});
