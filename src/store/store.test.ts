import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, StateStore, StoreError } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { kpi } from './testdata/kpi.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `s${++n}`, 'state');
const at = (time: number, who = 'ops', reason = 'test'): { time: number; who: string; reason: string } => ({ time, who, reason });

/** A SQLite file made by hand, as another version of nrdot-plus (or anything else) would leave it. */
function foreignDatabase(dir: string, userVersion: number): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'state.db');
  const db = new Database(file);
  db.exec('CREATE TABLE future_things (x TEXT); INSERT INTO future_things VALUES (\'hello\')');
  db.pragma(`user_version = ${userVersion}`);
  db.close();
  return file;
}

describe('state store: opening', () => {
  it('creates a private directory and a WAL database at the current schema version', () => {
    const dir = fresh();
    const store = StateStore.open(dir);
    assert.equal(store.path, join(dir, 'state.db'));
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const peek = new Database(store.path, { readonly: true });
    assert.equal(peek.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(peek.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    peek.close();
    store.close();
    store.close(); // twice is fine
  });

  it('keeps a loop that ran before it was off by default running after an upgrade, and a stopped one stopped', () => {
    /** A version-2 store whose loop last checked with `reason`, and was stopped by an operator or not. */
    const v2 = (lastReason: string, stopped: boolean): string => {
      const dir = fresh();
      mkdirSync(dir, { recursive: true });
      const db = new Database(join(dir, 'state.db'));
      db.exec(MIGRATIONS[0]! + MIGRATIONS[1]!);
      db.pragma('user_version = 2');
      db.prepare("INSERT INTO settings (key, value) VALUES ('control.memory', '{}')").run();
      if (stopped) db.prepare("INSERT INTO settings (key, value) VALUES ('control.stopped', '{\"who\":\"ops\"}')").run();
      db.prepare("INSERT INTO decisions (time, inputs, outcome, reason) VALUES (1, 'null', 'hold', ?)").run(lastReason);
      db.close();
      return dir;
    };
    const started = (dir: string): unknown => {
      const store = StateStore.open(dir);
      const value = store.getSetting<{ who: string }>('control.started');
      store.close();
      return value?.who ?? null;
    };
    assert.equal(started(v2('within budget', false)), 'upgrade');
    assert.equal(started(v2('within budget', true)), null, 'stopped by an operator');
    assert.equal(started(v2('the loop is stopped', false)), null, 'off by its configuration at the last check');
    assert.equal(started(fresh()), null, 'a fresh store');
  });

  it('migrates once: reopening keeps the data and the version', () => {
    const dir = fresh();
    const first = StateStore.open(dir);
    first.setActiveProfile('balanced', at(100));
    first.setSetting('control_loop', { stopped: true });
    first.recordKpis(kpi(1_700_000_000));
    first.close();
    const again = StateStore.open(dir);
    assert.equal(again.schemaVersion, SCHEMA_VERSION);
    assert.equal(again.profileState().active, 'balanced');
    assert.deepEqual(again.getSetting('control_loop'), { stopped: true });
    assert.equal(again.latestKpis()?.time, 1_700_000_000);
    assert.equal(again.journal().length, 1);
    again.close();
  });

  it('refuses a database from a newer nrdot-plus, names the file and both versions, and leaves it untouched', () => {
    const dir = fresh();
    const file = foreignDatabase(dir, SCHEMA_VERSION + 1);
    const before = readFileSync(file);
    for (const readonly of [false, true]) {
      assert.throws(
        () => StateStore.open(dir, { readonly }),
        (err: Error) =>
          err instanceof StoreError &&
          err.message.startsWith(`${file}: `) &&
          err.message.includes(`schema version ${SCHEMA_VERSION + 1}`) &&
          err.message.includes(`knows up to ${SCHEMA_VERSION}`),
      );
    }
    assert.deepEqual(readFileSync(file), before);
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'not switched to WAL either');
    db.close();
  });

  it('refuses a file that is not SQLite, naming it, and leaves it untouched', () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'state.db');
    const garbage = Buffer.alloc(8192);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 251;
    writeFileSync(file, garbage);
    for (const readonly of [false, true]) {
      assert.throws(() => StateStore.open(dir, { readonly }), (err: Error) => err instanceof StoreError && err.message === `${file}: not an SQLite database (is it the nrdot-plus state store?)`);
    }
    assert.deepEqual(readFileSync(file), garbage);
  });

  it('says which path it cannot create', () => {
    const parent = join(root, `s${++n}`);
    mkdirSync(parent);
    writeFileSync(join(parent, 'file'), 'not a directory');
    const dir = join(parent, 'file', 'state');
    assert.throws(() => StateStore.open(dir), (err: Error) => err instanceof StoreError && err.message === `${join(dir, 'state.db')}: cannot create the directory ${dir}: a parent is not a directory`);
  });
});

describe('state store: read-only, for the CLI', () => {
  it('names the missing file and creates nothing', () => {
    const dir = fresh();
    assert.throws(() => StateStore.open(dir, { readonly: true }), (err: Error) => err instanceof StoreError && err.message.startsWith(`${join(dir, 'state.db')}: no such file`));
    assert.ok(!existsSync(dir));
  });

  it('reads what the running agent wrote, while it runs, and writes nothing', () => {
    const dir = fresh();
    const agent = StateStore.open(dir);
    agent.setPin('conservative', null, at(10));
    agent.recordKpis(kpi(1_700_000_000));
    const cli = StateStore.open(dir, { readonly: true });
    assert.equal(cli.schemaVersion, SCHEMA_VERSION);
    assert.equal(cli.profileState().pin?.profile, 'conservative');
    agent.recordKpis(kpi(1_700_000_010));
    assert.equal(cli.latestKpis()?.time, 1_700_000_010, 'sees commits made after it opened');
    assert.throws(() => cli.setSetting('x', 1), /readonly/);
    agent.close(); // the agent stops while the CLI reads: it neither waits nor fails
    assert.equal(cli.latestKpis()?.time, 1_700_000_010);
    cli.close();
  });

  it('refuses a database that the agent has not migrated yet', () => {
    const dir = fresh();
    const file = foreignDatabase(dir, 0);
    assert.throws(
      () => StateStore.open(dir, { readonly: true }),
      (err: Error) => err instanceof StoreError && err.message === `${file}: schema version 0, older than this nrdot-plus's ${SCHEMA_VERSION}; start the agent once to upgrade it`,
    );
  });
});

describe('state store: profile, pin and journal', () => {
  it('journals each change of the active profile, and nothing when it does not change', () => {
    const store = StateStore.open(fresh());
    assert.deepEqual(store.profileState(), { active: null, pin: null });
    assert.deepEqual(store.setActiveProfile('balanced', at(100, 'agent', 'first start')), { id: 1, time: 100, from: null, to: 'balanced', reason: 'first start', who: 'agent' });
    assert.equal(store.setActiveProfile('balanced', at(130, 'control-loop', 'within budget')), null);
    const step = store.setActiveProfile('aggressive', at(160, 'control-loop', 'cost above budget'));
    assert.deepEqual(step && { from: step.from, to: step.to }, { from: 'balanced', to: 'aggressive' });
    assert.deepEqual(store.profileState(), { active: 'aggressive', pin: null });
    assert.deepEqual(store.journal().map((e) => e.to), ['aggressive', 'balanced'], 'newest first');
    store.close();
  });

  it('a pin wins over the active profile, and unpinning returns to it', () => {
    const store = StateStore.open(fresh());
    store.setActiveProfile('balanced', at(100));
    const pinned = store.setPin('conservative', 4000, at(200, 'alice', 'incident 42'));
    assert.deepEqual(pinned, { id: 2, time: 200, from: 'balanced', to: 'conservative', reason: 'incident 42', who: 'alice' });
    assert.deepEqual(store.profileState(), { active: 'balanced', pin: { profile: 'conservative', until: 4000, since: 200, who: 'alice', reason: 'incident 42' } });
    assert.equal(store.setPin('conservative', 4000, at(210, 'alice', 'again')), null, 'the same pin again changes nothing');
    const extended = store.setPin('conservative', null, at(220, 'alice', 'until further notice'));
    assert.deepEqual(extended && [extended.from, extended.to], ['conservative', 'conservative'], 'a new expiry is journalled');
    assert.equal(store.profileState().pin?.until, null);

    // The loop still moves the active profile under the pin; the journal says so.
    const under = store.setActiveProfile('aggressive', at(230, 'control-loop', 'cost above budget'));
    assert.deepEqual(under && [under.from, under.to], ['balanced', 'aggressive']);

    const unpinned = store.clearPin(at(300, 'alice', 'incident over'));
    assert.deepEqual(unpinned && [unpinned.from, unpinned.to, unpinned.who], ['conservative', 'aggressive', 'alice']);
    assert.deepEqual(store.profileState(), { active: 'aggressive', pin: null });
    assert.equal(store.clearPin(at(310)), null, 'no pin: nothing to clear');
    assert.equal(store.journal().length, 5);
    store.close();
  });

  it('unpinning when no active profile was ever stored leaves the pinned one active', () => {
    const store = StateStore.open(fresh());
    store.setPin('conservative', null, at(10));
    const entry = store.clearPin(at(20));
    assert.deepEqual(entry && [entry.from, entry.to], ['conservative', 'conservative']);
    assert.deepEqual(store.profileState(), { active: 'conservative', pin: null });
    store.close();
  });

  it('pages the journal by time and count', () => {
    const store = StateStore.open(fresh());
    const profiles = ['a', 'b', 'c', 'd', 'e'];
    profiles.forEach((p, i) => store.setActiveProfile(p, at(100 * (i + 1))));
    assert.deepEqual(store.journal({ since: 300 }).map((e) => e.time), [500, 400, 300]);
    assert.deepEqual(store.journal({ limit: 2 }).map((e) => e.to), ['e', 'd']);
    store.close();
  });
});

describe('state store: settings and pipeline state', () => {
  it('keeps settings as JSON values across a restart', () => {
    const dir = fresh();
    const store = StateStore.open(dir);
    assert.equal(store.getSetting('control_loop.stopped'), undefined);
    store.setSetting('control_loop.stopped', true);
    store.setSetting('schedule', { tz: 'Europe/Berlin', rules: [1, 2] });
    store.setSetting('schedule', { tz: 'UTC' });
    store.close();
    const again = StateStore.open(dir);
    assert.equal(again.getSetting<boolean>('control_loop.stopped'), true);
    assert.deepEqual(again.getSetting('schedule'), { tz: 'UTC' });
    again.setSetting('control_loop.stopped', undefined);
    assert.equal(again.getSetting('control_loop.stopped'), undefined);
    again.close();
  });

  it('keeps the latest pipeline state, replaced in place, across a restart', () => {
    const dir = fresh();
    const store = StateStore.open(dir);
    assert.equal(store.loadPipelineState(), null);
    for (let i = 1; i <= 5; i++) store.savePipelineState(Buffer.alloc(1 << 20, i), { timestamp: 1_700_000_000 + 10 * i, source: 'procfs:/proc' });
    store.close();
    const sizeAfterFive = statSync(join(dir, 'state.db')).size;
    assert.ok(sizeAfterFive < 3 << 20, `the file holds about one state, not five (${sizeAfterFive} bytes)`);
    const again = StateStore.open(dir);
    const state = again.loadPipelineState()!;
    assert.equal(state.timestamp, 1_700_000_050);
    assert.equal(state.source, 'procfs:/proc');
    assert.equal(state.blob.length, 1 << 20);
    assert.ok(state.blob.every((b) => b === 5));
    again.close();
  });
});

describe('state store: alert outbox and decisions', () => {
  it('hands out due alerts until delivered, and holds failed ones until their next attempt', () => {
    const store = StateStore.open(fresh());
    const a = store.enqueueAlert('profile_change', { from: 'balanced', to: 'emergency' }, 1000);
    const b = store.enqueueAlert('budget_exceeded', { cost: 1.5 }, 1001);
    assert.deepEqual(store.pendingAlerts(999, 10), [], 'nothing is due before it was raised');
    const due = store.pendingAlerts(1001, 10);
    assert.deepEqual(due.map((x) => [x.id, x.event, x.attempts, x.delivered]), [[a, 'profile_change', 0, null], [b, 'budget_exceeded', 0, null]]);
    assert.deepEqual(due[0]!.payload, { from: 'balanced', to: 'emergency' });

    assert.equal(store.markAlertFailed(a, 1002, 'HTTP 503', 1062), true);
    assert.equal(store.markAlertDelivered(b, 1002), true);
    assert.deepEqual(store.pendingAlerts(1061, 10), [], 'a waits for its retry, b is delivered');
    const retry = store.pendingAlerts(1062, 10);
    assert.deepEqual(retry.map((x) => [x.id, x.attempts, x.lastError, x.lastAttempt]), [[a, 1, 'HTTP 503', 1002]]);
    assert.equal(store.markAlertFailed(a, 1062, 'timeout', 1182), true);
    assert.equal(store.markAlertDelivered(a, 1182), true);
    assert.deepEqual(store.pendingAlerts(1e12, 10), []);
    assert.equal(store.markAlertDelivered(a, 1200), false, 'already delivered');
    assert.equal(store.markAlertFailed(999, 1200, 'x', 1300), false, 'unknown');
    store.close();
  });

  it('gives at most `limit` due alerts, the longest-waiting first', () => {
    const store = StateStore.open(fresh());
    for (let i = 0; i < 5; i++) store.enqueueAlert('e', i, 100 + i);
    assert.deepEqual(store.pendingAlerts(200, 2).map((x) => x.payload), [0, 1]);
    store.close();
  });

  it('records the control loop\'s evaluations, newest first, and prunes them with the raw KPIs', () => {
    const store = StateStore.open(fresh());
    const inputs = { series: 2400, cost: 0.2, budget: 0.15, coverage: 1, visibility: 0.8 };
    store.recordDecision({ time: 1000, inputs, outcome: 'step', from: 'balanced', to: 'aggressive', reason: 'cost above budget' });
    store.recordDecision({ time: 1030, inputs, outcome: 'hold', from: null, to: null, reason: 'dwell time' });
    const [latest, first] = store.decisions();
    assert.deepEqual(latest, { id: 2, time: 1030, inputs, outcome: 'hold', from: null, to: null, reason: 'dwell time' });
    assert.equal(first?.to, 'aggressive');
    assert.equal(store.decisions({ since: 1001 }).length, 1);
    assert.equal(store.decisions({ limit: 1 })[0]?.id, 2);
    assert.deepEqual(store.decisions({ changes: true }).map((d) => d.id), [1], 'only the checks that changed the profile');
    const pruned = store.prune(1030 + 7 * 86_400);
    assert.equal(pruned.decisions, 1);
    assert.deepEqual(store.decisions().map((d) => d.id), [2]);
    store.close();
  });
});

describe('state store: retention clock', () => {
  it('ages the history by the elapsed time it is given, not by a step of the stamps; by the stamps without it', () => {
    const t0 = 1_700_000_000;
    const step = 10 * 86_400;
    const rows = (store: StateStore): number => store.kpiHistory({ resolution: 'raw' }).length;
    const live = StateStore.open(fresh());
    for (let i = 0; i < 3; i++) live.recordKpis(kpi(t0 + i * 10), i === 0 ? undefined : 10);
    // A clock taken as the time after an hour ahead: an hour passed, not ten days.
    live.recordKpis(kpi(t0 + 20 + step + 3600), 3600);
    live.recordKpis(kpi(t0 + 30 + step + 3600), 10);
    assert.equal(rows(live), 5, 'nothing pruned by the step');
    live.close();
    const replay = StateStore.open(fresh());
    for (let i = 0; i < 3; i++) replay.recordKpis(kpi(t0 + i * 10));
    replay.recordKpis(kpi(t0 + 20 + step + 3600));
    assert.equal(rows(replay), 1, 'a recording\'s time is the data\'s: ten days later, the first rows are past the 7 days');
    replay.close();
  });
});

describe('state store: crash safety', () => {
  it('after kill -9 mid-write, the file is intact and holds every row reported committed', async () => {
    const dir = fresh();
    // A child that records an interval's KPIs (and a 256 KiB pipeline state every 10th) as fast as it
    // can, printing each row's id once recordKpis has returned.
    const script = `import { StateStore } from ${JSON.stringify(fileURLToPath(new URL('./index.js', import.meta.url)))};
      import { kpi } from ${JSON.stringify(fileURLToPath(new URL('./testdata/kpi.js', import.meta.url)))};
      const store = StateStore.open(${JSON.stringify(dir)});
      for (let i = 0; ; i++) {
        const id = store.recordKpis(kpi(1_700_000_000 + i * 10));
        if (i % 10 === 0) store.savePipelineState(Buffer.alloc(262144, i % 256), { timestamp: i, source: 'test' });
        process.stdout.write(id + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const committed: number[] = [];
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) committed.push(Number(line));
      if (committed.length >= 2000) child.kill('SIGKILL');
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL', `the child was killed (exit code ${code})`);

    const store = StateStore.open(dir);
    const db = new Database(store.path, { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const ids = new Set(db.prepare<[], { id: number }>('SELECT id FROM kpi_raw').all().map((r) => r.id));
    const missing = committed.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${committed.length} rows reported committed, ${ids.size} on disk`);
    const hourly = db.prepare<[], { samples: number }>('SELECT sum(samples) AS samples FROM kpi_hourly').get()!;
    assert.equal(hourly.samples, ids.size, 'the hourly rollup counts exactly the raw rows (same transaction)');
    db.close();
    const state = store.loadPipelineState()!;
    assert.ok(state.blob.every((b) => b === state.timestamp % 256), 'the pipeline state is whole');
    store.close();
  });
});
