import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError, UserError } from '../command/errors.js';
import { ConfigError } from '../config/load.js';
import { loadHubSettings } from './config.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'hub-config-'));

function file(text: string): string {
  const path = join(dir(), 'hub.yaml');
  writeFileSync(path, text);
  return path;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected an error');
}

describe('hub settings', () => {
  it('defaults: loopback 4320, embedded SQLite, 30 s heartbeat, no file', () => {
    const d = dir();
    const { settings, file: used } = loadHubSettings({}, { NRDOT_HUB_DATA_DIR: d });
    assert.equal(settings.listen, '127.0.0.1:4320');
    assert.equal(settings.dataDir, d);
    assert.equal(settings.database, null);
    assert.equal(settings.heartbeatSeconds, 30);
    assert.equal(settings.tls, null);
    assert.equal(used, null);
  });

  it('hub.yaml in the data dir is read when present; variables win over it, flags over both', () => {
    const d = dir();
    writeFileSync(join(d, 'hub.yaml'), 'listen: 127.0.0.1:5000\nheartbeat:\n  seconds: 10\npublic_url: https://hub.example.com\nauth:\n  allow_exporters: true\n');
    const fromFile = loadHubSettings({}, { NRDOT_HUB_DATA_DIR: d });
    assert.equal(fromFile.file, join(d, 'hub.yaml'));
    assert.equal(fromFile.settings.listen, '127.0.0.1:5000');
    assert.equal(fromFile.settings.heartbeatSeconds, 10);
    assert.equal(fromFile.settings.publicUrl, 'https://hub.example.com');
    assert.equal(fromFile.settings.allowExporters, true);
    const env = { NRDOT_HUB_DATA_DIR: d, NRDOT_HUB_LISTEN: '127.0.0.1:6000', NRDOT_HUB_HEARTBEAT_SECONDS: '20' };
    assert.equal(loadHubSettings({}, env).settings.listen, '127.0.0.1:6000');
    assert.equal(loadHubSettings({}, env).settings.heartbeatSeconds, 20);
    const flags = loadHubSettings({ listen: '127.0.0.1:7000', heartbeatSeconds: 5 }, env).settings;
    assert.equal(flags.listen, '127.0.0.1:7000');
    assert.equal(flags.heartbeatSeconds, 5);
    assert.equal(flags.publicUrl, 'https://hub.example.com', 'what no flag or variable sets still comes from the file');
  });

  it('--config and NRDOT_HUB_CONFIG name the file; a missing named file is an error naming it and its source', () => {
    const path = file('database: postgres://hub:secret@db/hub\n');
    assert.equal(loadHubSettings({ config: path }, {}).settings.database, 'postgres://hub:secret@db/hub');
    assert.equal(loadHubSettings({}, { NRDOT_HUB_CONFIG: path }).settings.database, 'postgres://hub:secret@db/hub');
    const err = thrown(() => loadHubSettings({}, { NRDOT_HUB_CONFIG: '/nonexistent/hub.yaml' }));
    assert.ok(err instanceof ConfigError);
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /\/nonexistent\/hub\.yaml: no such file \(from NRDOT_HUB_CONFIG\)/);
  });

  it('a bad variable is a usage error (exit 2) naming it', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['NRDOT_HUB_LISTEN', 'nowhere', /NRDOT_HUB_LISTEN: .*host:port/],
      ['NRDOT_HUB_HEARTBEAT_SECONDS', 'soon', /NRDOT_HUB_HEARTBEAT_SECONDS: must be a whole number of seconds from 1 to 3600 \(got "soon"\)/],
      ['NRDOT_HUB_DATABASE', 'mysql://x', /NRDOT_HUB_DATABASE: must be a PostgreSQL URL/],
      ['NRDOT_HUB_PUBLIC_URL', 'ftp://x', /NRDOT_HUB_PUBLIC_URL: .*http/],
      ['NRDOT_HUB_INSECURE_PLAINTEXT', 'maybe', /NRDOT_HUB_INSECURE_PLAINTEXT: must be true or false/],
      ['NRDOT_HUB_TLS_CERT', '/etc/cert.pem', /NRDOT_HUB_TLS_KEY: unset while NRDOT_HUB_TLS_CERT is set/],
    ];
    for (const [name, value, message] of cases) {
      const err = thrown(() => loadHubSettings({}, { NRDOT_HUB_DATA_DIR: dir(), [name]: value }));
      assert.ok(err instanceof UsageError, `${name}: ${err.message}`);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
    }
  });

  it('a bad hub.yaml is exit 1 naming file:line and the field; an unknown key is named', () => {
    const unknown = file('listen: 127.0.0.1:4320\nheartbeat:\n  second: 10\n');
    let err = thrown(() => loadHubSettings({ config: unknown }, {}));
    assert.ok(err instanceof ConfigError);
    assert.equal(err.exitCode, 1);
    assert.equal(err.message, `${unknown}:3: heartbeat.second: unknown setting`);

    const bad = file('listen: 127.0.0.1:4320\nheartbeat:\n  seconds: 0\n');
    err = thrown(() => loadHubSettings({ config: bad }, {}));
    assert.match(err.message, new RegExp(`^${bad}:3: heartbeat\\.seconds: must be a whole number of seconds from 1 to 3600`));

    const syntax = file('listen: [\n');
    err = thrown(() => loadHubSettings({ config: syntax }, {}));
    assert.match(err.message, new RegExp(`^${syntax}:\\d+: YAML syntax error`));

    const top = file('databse: postgres://x/y\n');
    err = thrown(() => loadHubSettings({ config: top }, {}));
    assert.equal(err.message, `${top}:1: databse: unknown setting`);
  });

  it('paths in hub.yaml are relative to the file', () => {
    const path = file('tls:\n  cert: cert.pem\n  key: /abs/key.pem\n');
    const { settings } = loadHubSettings({ config: path }, {});
    assert.deepEqual(settings.tls, { cert: join(path, '..', 'cert.pem'), key: '/abs/key.pem' });
  });

  it('beyond loopback it refuses to start without TLS (or insecure plaintext) and without an agent secret', () => {
    const base = { NRDOT_HUB_DATA_DIR: dir(), NRDOT_HUB_LISTEN: '0.0.0.0:4320' };
    let err = thrown(() => loadHubSettings({}, base));
    assert.ok(err instanceof UserError);
    assert.match(err.message, /refusing to listen on 0\.0\.0\.0:4320 \(beyond loopback\) without TLS: set NRDOT_HUB_TLS_CERT and NRDOT_HUB_TLS_KEY.*NRDOT_HUB_INSECURE_PLAINTEXT=true/);
    err = thrown(() => loadHubSettings({}, { ...base, NRDOT_HUB_INSECURE_PLAINTEXT: 'true' }));
    assert.match(err.message, /without an agent secret: set NRDOT_HUB_AGENT_SECRET/);
    const ok = loadHubSettings({}, { ...base, NRDOT_HUB_INSECURE_PLAINTEXT: 'true', NRDOT_HUB_AGENT_SECRET: 's3cret-enrollment' }).settings;
    assert.equal(ok.agentSecret, 's3cret-enrollment');
    // TLS instead of plaintext is enough for the first rule.
    const tls = loadHubSettings({}, { ...base, NRDOT_HUB_TLS_CERT: '/c.pem', NRDOT_HUB_TLS_KEY: '/k.pem', NRDOT_HUB_AGENT_SECRET: 'x' }).settings;
    assert.deepEqual(tls.tls, { cert: '/c.pem', key: '/k.pem' });
    // Loopback needs neither.
    assert.equal(loadHubSettings({}, { ...base, NRDOT_HUB_LISTEN: '[::1]:4320' }).settings.listen, '[::1]:4320');
  });
});
