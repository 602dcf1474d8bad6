import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { parse } from 'yaml';
import { ensureToken } from '../api/discovery.js';
import { defaultConfig, parseConfig, Redactor } from '../config/index.js';
import { StateStore } from '../store/index.js';
import { kpi } from '../store/testdata/kpi.js';
import { VERSION } from '../version.js';
import { logFilesOf, writeArchive, type ArchiveInput } from './archive.js';

const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'nrdot-archive-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `d${++n}`);

const LICENSE = 'NRAK-CONFIGKEY0123456789';
const ENV_KEY = 'eu01xxENVLICENSEKEY9876543210NRAL';
const WEBHOOK_SECRET = 'whsec_k9Qe7Lr2Vx';
const WEBHOOK_PATH = '/services/T000/B000/HOOKPATHSECRET';
const NORMAL = '{"level":30,"msg":"collected 412 processes in 4.2 ms, 0 permission errors muted"}';
/** 2025-11-26T00:00:00Z */
const TIME = 1_764_115_200;

const config = parseConfig(
  [
    'exporters: { otlp: { endpoint: "https://otlp.example:4318", headers: { api-key: "' + LICENSE + '" } } }',
    `webhooks: { profile_change: { url: "https://hooks.example.com${WEBHOOK_PATH}", secret: "${WEBHOOK_SECRET}" } }`,
  ].join('\n') + '\n',
  'optimization.yaml',
);
const env = { NEW_RELIC_LICENSE_KEY: ENV_KEY };

/** Every file under `dir`, relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** A data directory with a state store holding a journal entry, a decision, KPIs and secrets where a careless agent could have put them, and logs that quote them. */
function scene(): { dataDir: string; store: StateStore; input: ArchiveInput; token: string } {
  const dataDir = fresh();
  const store = StateStore.open(join(dataDir, 'state'));
  store.setActiveProfile('balanced', { time: TIME - 3600, who: 'ops', reason: 'first start' });
  store.setPin('conservative', null, { time: TIME - 60, who: 'alice', reason: `cost spike; key was ${LICENSE}` });
  store.recordDecision({ time: TIME - 30, inputs: { cost: 2.5, budget: 1 }, outcome: 'emergency', from: 'balanced', to: 'emergency', reason: 'cost above 2 x budget' });
  for (let i = 10; i >= 1; i--) store.recordKpis(kpi(TIME - 10 * i));
  store.recordKpis(kpi(TIME - 2 * 86_400)); // older than a day: not in kpis.json
  const alert = store.enqueueAlert('profile_change', { url: `https://hooks.example.com${WEBHOOK_PATH}` }, TIME - 20);
  store.markAlertFailed(alert, TIME - 19, `403 from backend; api-key ${ENV_KEY} refused`, TIME + 60);
  store.setSetting('last_webhook_secret', WEBHOOK_SECRET);
  const { token } = ensureToken(dataDir);

  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir);
  const log = join(logDir, 'nrdot-plus.log');
  writeFileSync(log, `${NORMAL}\n{"level":50,"msg":"sending with api-key ${LICENSE}"}\n{"level":40,"msg":"webhook secret \\"${WEBHOOK_SECRET}\\""}\n`);
  writeFileSync(`${log}.1`, `{"level":50,"msg":"401 for ${ENV_KEY} at https://hooks.example.com${WEBHOOK_PATH}"}\n{"msg":"token ${token}"}\n${NORMAL}\n`);
  const input: ArchiveInput = {
    dataDir,
    store,
    config,
    configFile: '/etc/nrdot-plus/optimization.yaml',
    redactor: Redactor.of(config, env),
    logFiles: logFilesOf(log),
    time: TIME,
    who: 'alice',
    reason: 'cost spike after deploy',
    status: { profile: 'conservative', exporters: { otlp: { headers: { 'api-key': LICENSE } } } },
  };
  return { dataDir, store, input, token };
}

async function extract(archive: string): Promise<string> {
  const out = mkdtempSync(join(root, 'x-'));
  await exec('tar', ['-xzf', archive, '-C', out]);
  return out;
}

describe('rollback archive', () => {
  it('writes every file, redacted, into a private tar.gz that the system tar extracts', async () => {
    const { dataDir, store, input, token } = scene();
    const result = await writeArchive(input);
    store.close();

    assert.equal(result.path, join(dataDir, 'archives', 'rollback-20251126T000000Z.tar.gz'));
    assert.equal(statSync(result.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'archives')).mode & 0o777, 0o700);
    assert.equal(statSync(result.path).size, result.bytes);
    assert.deepEqual(readdirSync(join(dataDir, 'archives')), ['rollback-20251126T000000Z.tar.gz'], 'no staging or temporary file left');

    const out = await extract(result.path);
    assert.deepEqual(readdirSync(out), ['rollback-20251126T000000Z'], 'one top-level directory, named like the file');
    const top = join(out, 'rollback-20251126T000000Z');
    const expected = ['config.yaml', 'decisions.json', 'journal.json', 'kpis.json', 'logs/nrdot-plus.log', 'logs/nrdot-plus.log.1', 'manifest.json', 'state.db', 'status.json'];
    assert.deepEqual(walk(top), expected);
    assert.deepEqual([...result.files].sort(), expected);
    assert.deepEqual(result.skipped, []);

    // No secret anywhere, in any form the agent knows, the store's bytes included.
    const secrets = [LICENSE, ENV_KEY, WEBHOOK_SECRET, WEBHOOK_PATH, 'HOOKPATHSECRET', token];
    for (const file of walk(top)) {
      const bytes = readFileSync(join(top, file));
      for (const secret of secrets) assert.ok(!bytes.includes(secret), `${file} holds ${secret.slice(0, 6)}...`);
    }

    const current = readFileSync(join(top, 'logs/nrdot-plus.log'), 'utf8');
    assert.ok(current.startsWith(NORMAL + '\n'), 'the normal line is as it was');
    assert.match(current, /sending with api-key \*\*\*"/);
    assert.match(current, /webhook secret \\"\*\*\*\\"/);
    assert.match(readFileSync(join(top, 'logs/nrdot-plus.log.1'), 'utf8'), new RegExp(`\\n${NORMAL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));

    const db = new Database(join(top, 'state.db'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const journal = db.prepare('SELECT to_profile, who, reason FROM journal ORDER BY id').all();
    assert.deepEqual(journal, [
      { to_profile: 'balanced', who: 'ops', reason: 'first start' },
      { to_profile: 'conservative', who: 'alice', reason: 'cost spike; key was ***' },
    ]);
    assert.equal(db.prepare('SELECT count(*) FROM kpi_raw').pluck().get(), 11, 'the copy holds the whole store');
    db.close();
    const copy = StateStore.open(top, { readonly: true });
    assert.equal(copy.profileState().pin?.profile, 'conservative', 'the store reads its own copy');
    copy.close();

    const json = (name: string): unknown => JSON.parse(readFileSync(join(top, name), 'utf8'));
    assert.equal((json('journal.json') as unknown[]).length, 2);
    assert.deepEqual((json('decisions.json') as Array<{ outcome: string }>).map((d) => d.outcome), ['emergency']);
    assert.equal((json('kpis.json') as unknown[]).length, 10, 'the last 24 h of raw KPIs');
    assert.deepEqual(json('status.json'), { profile: 'conservative', exporters: { otlp: { headers: { 'api-key': '***' } } } });

    const shown = parse(readFileSync(join(top, 'config.yaml'), 'utf8')) as typeof config;
    assert.equal(shown.exporters.otlp.headers!['api-key'], '***');
    assert.equal(shown.webhooks.profile_change!.url, 'https://hooks.example.com/***');
    assert.equal(shown.profiles.balanced!.description, config.profiles.balanced!.description, 'the rest is the configuration in force');

    const manifest = json('manifest.json') as Record<string, unknown> & { files: Array<{ name: string; bytes: number }> };
    assert.equal(manifest.time, '2025-11-26T00:00:00.000Z');
    assert.equal(manifest.who, 'alice');
    assert.equal(manifest.reason, 'cost spike after deploy');
    assert.equal(manifest.agent_version, VERSION);
    assert.equal(manifest.config_file, '/etc/nrdot-plus/optimization.yaml');
    assert.equal(typeof manifest.host, 'string');
    assert.match(String(manifest.redaction), /redacted/);
    for (const f of manifest.files) assert.equal(statSync(join(top, f.name)).size, f.bytes, f.name);
    assert.deepEqual(manifest.files.map((f) => f.name).sort(), expected.filter((f) => f !== 'manifest.json'));
  });

  it('gives two archives of the same second different names, one after the other and at once', async () => {
    const { dataDir, store, input } = scene();
    try {
      const first = await writeArchive(input);
      const [second, third] = await Promise.all([writeArchive(input), writeArchive(input)]);
      const names = [first, second, third].map((r) => basename(r.path));
      assert.equal(new Set(names).size, 3, names.join(', '));
      assert.deepEqual(readdirSync(join(dataDir, 'archives')).sort(), [...names].sort());
      for (const r of [second, third]) {
        const out = await extract(r.path);
        assert.deepEqual(readdirSync(out), [basename(r.path, '.tar.gz')], 'the directory inside follows the name');
      }
    } finally {
      store.close();
    }
  });

  it('notes a log file that is gone and archives the rest', async () => {
    const { store, input } = scene();
    try {
      const gone = join(input.dataDir, 'logs', 'nrdot-plus.log.2');
      const result = await writeArchive({ ...input, logFiles: [...input.logFiles, gone] });
      assert.deepEqual(result.skipped, [{ file: gone, reason: 'no such file' }]);
      const top = join(await extract(result.path), basename(result.path, '.tar.gz'));
      const manifest = JSON.parse(readFileSync(join(top, 'manifest.json'), 'utf8')) as { logs_skipped: unknown };
      assert.deepEqual(manifest.logs_skipped, [{ file: gone, reason: 'no such file' }]);
      assert.ok(walk(top).includes('logs/nrdot-plus.log.1'));
    } finally {
      store.close();
    }
  });

  it('fails naming the directory when archives/ is not writable, and leaves nothing behind', async (t) => {
    const dataDir = fresh();
    mkdirSync(join(dataDir, 'archives'), { recursive: true });
    chmodSync(dataDir, 0o777);
    chmodSync(join(dataDir, 'archives'), 0o555);
    const archives = join(dataDir, 'archives');
    let message: string;
    if (process.getuid?.() === 0) {
      // Root writes anywhere: the archive is written as nobody, the agent's usual kind of user.
      const script = `
        const { writeArchive } = await import(${JSON.stringify(new URL('./archive.js', import.meta.url).href)});
        const { StateStore } = await import(${JSON.stringify(new URL('../store/index.js', import.meta.url).href)});
        const { defaultConfig, Redactor } = await import(${JSON.stringify(new URL('../config/index.js', import.meta.url).href)});
        const dataDir = process.env.ARCHIVE_TEST_DIR;
        const store = StateStore.open(dataDir + '/state');
        try {
          await writeArchive({ dataDir, store, config: defaultConfig(), configFile: null, redactor: new Redactor(), logFiles: [], time: ${TIME}, who: 'ops', reason: 'test' });
          console.log(JSON.stringify({ ok: true }));
        } catch (err) {
          console.log(JSON.stringify({ error: err.message }));
        } finally {
          store.close();
        }`;
      chmodSync(root, 0o755); // for nobody to reach the data directory
      const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(fileURLToPath(new URL('./archive.js', import.meta.url)))})`], { uid: 65534, gid: 65534, cwd: '/' });
      if (probe.status !== 0) return t.skip('the build is not readable by uid 65534');
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, cwd: '/', env: { ...process.env, ARCHIVE_TEST_DIR: dataDir }, encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      message = (JSON.parse(child.stdout) as { error: string }).error;
    } else {
      const store = StateStore.open(join(dataDir, 'state'));
      try {
        const err = await writeArchive({ dataDir, store, config: defaultConfig(), configFile: null, redactor: new Redactor(), logFiles: [], time: TIME, who: 'ops', reason: 'test' }).then(
          () => assert.fail('no error'),
          (e: unknown) => e as Error,
        );
        message = err.message;
      } finally {
        store.close();
      }
    }
    assert.equal(message, `${archives}: cannot write an archive there: permission denied`);
    assert.deepEqual(readdirSync(archives), []);
  });

  it('fails midway (a closed store) without leaving a staging directory or a partial archive', async () => {
    const { dataDir, store, input } = scene();
    store.close();
    await assert.rejects(writeArchive(input), /database connection is not open|state\.db/);
    assert.deepEqual(readdirSync(join(dataDir, 'archives')), []);
  });
});

describe('redaction of large logs', () => {
  it('redacts a secret that straddles two read chunks of a large log', async () => {
    const { store, input } = scene();
    try {
      const log = join(input.dataDir, 'logs', 'big.log');
      const chunk = 64 * 1024;
      // The secret begins a few bytes before the first chunk's end; a multi-byte character sits on a later boundary.
      const head = 'x'.repeat(chunk - 7);
      const body = `${head}${LICENSE}\n${'é'.repeat(chunk)}\n${NORMAL}\n`;
      writeFileSync(log, body);
      const result = await writeArchive({ ...input, logFiles: [log] });
      const top = join(await extract(result.path), basename(result.path, '.tar.gz'));
      const copied = readFileSync(join(top, 'logs/big.log'), 'utf8');
      assert.equal(copied, `${head}***\n${'é'.repeat(chunk)}\n${NORMAL}\n`);
    } finally {
      store.close();
    }
  });

  it('redacts a secret past a MiB of a line without newlines, where the line is cut in pieces', async () => {
    const { store, input } = scene();
    try {
      const log = join(input.dataDir, 'logs', 'one-line.log');
      // JSON fields without a newline (a dump); the secret straddles the end of the first read chunk
      // (64 KiB each) that takes the line past 1 MiB, where it is cut.
      const field = '"k":"' + 'v'.repeat(90) + '",';
      const end = 17 * 64 * 1024 - 10;
      const head = field.repeat(Math.ceil(end / field.length)).slice(0, end);
      writeFileSync(log, `${head} ${LICENSE} ${field}`);
      const result = await writeArchive({ ...input, logFiles: [log] });
      const top = join(await extract(result.path), basename(result.path, '.tar.gz'));
      const copied = readFileSync(join(top, 'logs/one-line.log'), 'utf8');
      assert.ok(!copied.includes(LICENSE));
      assert.equal(copied, `${head} *** ${field}`);
    } finally {
      store.close();
    }
  });
});
