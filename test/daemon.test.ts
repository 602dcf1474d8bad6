/**
 * The daemon as an operator meets it: the real agent on the real /proc with a temporary data
 * directory, driven by the real nrdot-plus-ctl. Profile changes and pins survive kill -9, a broken
 * configuration is refused while the agent keeps serving, changes need the token, and ctl without a
 * daemon says how to start one (exit 3).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { AGENT, CTL, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-daemon-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function dataDir(): string {
  return mkdtempSync(join(root, `data-${++dirs}-`));
}

function ctl(dir: string, args: string[]): Promise<RunResult> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });
}

const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

async function startAgent(dir: string, args: string[] = [], env: Record<string, string> = {}): Promise<AgentProcess> {
  const agent = AgentProcess.start(['--interval', '1', ...args], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', ...env });
  await agent.waitForLog(isInterval, 20_000, 'the first interval');
  return agent;
}

interface Profile {
  profile: string;
  source: string;
  pin: { profile: string; until: number | null; who: string } | null;
}

describe('nrdot-plus daemon and nrdot-plus-ctl', () => {
  it('keeps the profile set and the pin across kill -9, and resumes the pipeline state', async () => {
    const dir = dataDir();
    let agent = await startAgent(dir);
    try {
      await agent.waitForLog(() => agent.intervals() >= 2, 10_000, 'a second interval (the agent\'s CPU share needs two)');
      const status = await ctl(dir, ['status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /profile\s+balanced: set by nrdot-plus .*first start/);
      assert.match(status.stdout, /series\s+\d+ exported, \d+ in the baseline/);
      assert.match(status.stdout, /agent usage\s+CPU [\d.]+% of a core, memory [\d.]+ MB/);
      const set = await ctl(dir, ['profile', 'set', 'aggressive', '--reason', 'incident over']);
      assert.equal(set.code, 0, set.stderr);
      const pin = await ctl(dir, ['profile', 'pin', 'conservative', '--for', '2h', '--reason', 'deploy']);
      assert.equal(pin.code, 0, pin.stderr);
      const intervals = agent.intervals();
      const before = await agent.waitForLog((l) => isInterval(l) && l.profile === 'conservative' && agent.intervals() > intervals, 10_000, 'an interval in conservative');
      await agent.kill9();

      const down = await ctl(dir, ['status']);
      assert.equal(down.code, 3);
      assert.match(down.stderr, /no nrdot-plus daemon is running.*start it with `nrdot-plus`/);

      agent = await startAgent(dir);
      const started = agent.lines.find((l) => typeof l.listen === 'string')!;
      assert.equal(started.profile, 'conservative');
      assert.equal(started.state_resumed, true);
      const first = agent.lines.find(isInterval)!;
      assert.equal(first.profile, 'conservative');
      // The first interval spans the downtime: its deltas do, its cost per hour must not shrink by it.
      const ratio = Number(first.cost_per_hour_baseline) / Number(before.cost_per_hour_baseline);
      assert.ok(ratio > 0.5 && ratio < 2, `cost per hour after the restart ${ratio.toFixed(2)}x the one before`);
      const get = await ctl(dir, ['profile', 'get', '--json']);
      const f = JSON.parse(get.stdout) as Profile;
      assert.equal(f.profile, 'conservative');
      assert.equal(f.source, 'pin');
      assert.ok(f.pin!.until! > Date.now() / 1000 + 3600, 'the pin keeps its expiry');
      const unpin = await ctl(dir, ['profile', 'unpin']);
      assert.equal(unpin.code, 0, unpin.stderr);
      assert.match(unpin.stdout, /in force: aggressive: set by nrdot-plus-ctl/);
      const show = await ctl(dir, ['profile', 'show', '--json']);
      const journal = (JSON.parse(show.stdout) as { journal: Array<{ from: string | null; to: string; reason: string }> }).journal;
      assert.deepEqual(
        journal.map((e) => [e.from, e.to, e.reason]),
        [
          ['conservative', 'aggressive', 'unpinned by operator'],
          ['aggressive', 'conservative', 'deploy'],
          ['balanced', 'aggressive', 'incident over'],
          [null, 'balanced', "first start: the configuration's state.active_profile"],
        ],
      );
    } finally {
      await agent.stop();
    }
  });

  it('refuses changes without the token, and the token is readable by its owner only', async () => {
    const dir = dataDir();
    const agent = await startAgent(dir);
    try {
      const token = join(dir, 'api-token');
      assert.equal(statSync(token).mode & 0o777, 0o600);
      const info = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { address: string; pid: number };
      assert.equal(info.pid, agent.child.pid);
      const base = `http://${info.address}/api/v1`;
      const put = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${base}/profile`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ profile: 'minimal' }) });
      const none = await put({});
      assert.equal(none.status, 401);
      assert.match(((await none.json()) as { error: string }).error, /Bearer/);
      assert.equal((await put({ authorization: 'Bearer not-the-token' })).status, 403);
      const profile = (await (await fetch(`${base}/profile`)).json()) as Profile;
      assert.equal(profile.profile, 'balanced', 'nothing changed');
      const good = await put({ authorization: `Bearer ${readFileSync(token, 'utf8').trim()}` });
      assert.equal(good.status, 200);
      assert.equal(((await good.json()) as Profile).profile, 'minimal');

      const described = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown }>> };
      assert.equal(described.openapi, '3.1.0');
      assert.ok(described.paths['/api/v1/profile']!.put!.security, 'PUT /profile is described as needing the token');
      assert.equal(described.paths['/api/v1/status']!.get!.security, undefined);
      for (const path of ['/api/v1/status', '/api/v1/kpis', '/api/v1/kpis/history', '/api/v1/processes', '/api/v1/profiles', '/api/v1/journal', '/api/v1/config']) {
        assert.ok(described.paths[path], `${path} described`);
        assert.equal((await fetch(`http://${info.address}${path}`)).status, 200, path);
      }
    } finally {
      await agent.stop();
    }
    assert.equal(existsSync(join(dir, 'agent.json')), false, 'a stopped agent unregisters');
  });

  it('keeps serving on the previous configuration when a reload finds a broken file', async () => {
    const dir = dataDir();
    const config = join(dir, 'optimization.yaml');
    const secret = 'whsec-7f3a9c1e-do-not-print';
    const hooks = `webhooks: { profile_change: { url: "http://127.0.0.1:9/hook", secret: "${secret}" } }\n`;
    writeFileSync(config, 'cost_model: { per_gb: 0.30 }\n' + hooks);
    const agent = await startAgent(dir, ['--config', config]);
    try {
      writeFileSync(config, 'cost_model: { per_gb: 0.30 }\n' + hooks + 'control_loop:\n  max_series: -5\n');
      const r = await ctl(dir, ['config', 'reload']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`previous one stays in force: ${config.replace(/[.]/g, '\\.')}:4: control_loop\\.max_series`));
      await agent.waitForLog((l) => l.level === 50 && /configuration not reloaded/.test(String(l.msg)), 5000, 'the error in the log');
      agent.child.kill('SIGHUP');
      const n = agent.intervals();
      await agent.waitForLog(() => agent.intervals() > n + 1, 10_000, 'intervals after a refused SIGHUP reload');
      const status = await ctl(dir, ['status', '--json']);
      assert.equal(status.code, 0);
      assert.match((JSON.parse(status.stdout) as { reloads: { last_error: string } }).reloads.last_error, /max_series/);

      // The file fixed and changed: the agent notices it by itself.
      // --interval 1 wins over the file's 30; an exporter waits for the next start.
      const out = join(dir, 'later.jsonl');
      writeFileSync(config, `cost_model: { per_gb: 0.60, collection_interval_seconds: 30 }\nexporters: { file: { path: ${JSON.stringify(out)} } }\n` + hooks);
      const reloaded = await agent.waitForLog((l) => /configuration reloaded/.test(String(l.msg)), 10_000, 'the reload on the file change');
      assert.equal(reloaded.by, 'file watch');
      assert.deepEqual(reloaded.changed, ['cost_model']);
      assert.deepEqual(reloaded.restart_needed, ['exporters']);
      const after = JSON.parse((await ctl(dir, ['status', '--json'])).stdout) as { interval_s: number; export: { file: string | null }; reloads: { last_error: string | null; pending_restart: string[] } };
      assert.equal(after.interval_s, 1, 'the flag wins over the file');
      assert.equal(after.export.file, null, 'what is in force, not what waits for a restart');
      assert.deepEqual(after.reloads.pending_restart, ['exporters']);
      assert.equal(after.reloads.last_error, null);
      const shown = await ctl(dir, ['config', 'show', '--json']);
      assert.equal((JSON.parse(shown.stdout) as { cost_model: { per_gb: number } }).cost_model.per_gb, 0.6);
      const yaml = await ctl(dir, ['config', 'show']);
      assert.match(yaml.stdout, /^# effective configuration, in force in nrdot-plus pid \d+: /);
      assert.match(yaml.stdout, /secret: "\*\*\*"/);
      assert.ok(!yaml.stdout.includes(secret) && !shown.stdout.includes(secret), 'config show redacts the webhook secret');
      assert.ok(!(await ctl(dir, ['status', '--json'])).stdout.includes(secret));
    } finally {
      await agent.stop();
    }
    assert.ok(!agent.stderr.includes(secret), 'the secret never reaches the log');
  });

  it('answers live: explain, top and metrics in three formats', async () => {
    const dir = dataDir();
    const agent = await startAgent(dir);
    try {
      const pid = String(agent.child.pid);
      const explain = await ctl(dir, ['explain', pid]);
      assert.equal(explain.code, 0, explain.stderr);
      assert.match(explain.stdout, new RegExp(`pid ${pid} \\(node\\)`));
      assert.match(explain.stdout, /decision: {3}(keep|rollup|sample) \(/);
      const top = JSON.parse((await ctl(dir, ['top', '-n', '5', '--json'])).stdout) as { processes: Array<{ composite: number }>; total: number };
      assert.equal(top.processes.length, Math.min(5, top.total));
      assert.ok(top.processes.every((p, i, a) => i === 0 || a[i - 1]!.composite >= p.composite), 'by usage');
      const human = await ctl(dir, ['top']);
      assert.match(human.stdout, /PID\s+NAME\s+TIER\s+IMP\s+CPU %\s+RSS\s+IO KB\/s\s+DECISION\s+REASON/);
      const prom = await ctl(dir, ['metrics', 'prometheus']);
      assert.match(prom.stdout, /^nrdot_agent_memory_rss_bytes \d+$/m);
      const json = JSON.parse((await ctl(dir, ['metrics', 'json'])).stdout) as { kpis: { agent_rss_bytes: number; processes: number } };
      assert.ok(json.kpis.agent_rss_bytes > 10e6 && json.kpis.processes > 0);
      assert.match((await ctl(dir, ['metrics'])).stdout, /datapoints\s+\d+ of \d+/);
      const logs = await ctl(dir, ['logs', '-n', '3', '--json']);
      assert.equal(logs.code, 0, logs.stderr);
      const tail = logs.stdout.trim().split('\n').map((l) => JSON.parse(l) as LogLine);
      assert.equal(tail.length, 3);
      assert.ok(tail.every((l) => l.pid === agent.child.pid), 'the agent\'s log file, as ctl finds it');
      const missing = await ctl(dir, ['explain', '999999999']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no process with pid 999999999/);
    } finally {
      await agent.stop();
    }
  });

  it('serves /metrics values without float noise, in the shortest form', async () => {
    const dir = dataDir();
    const agent = await startAgent(dir);
    try {
      // Rollups sum many CPU deltas: noise shows from the second interval on.
      await agent.waitForLog((l) => isInterval(l) && l !== agent.lines.find(isInterval), 20_000, 'a second interval');
      const info = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { address: string };
      const text = await (await fetch(`http://${info.address}/metrics`)).text();
      const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
      const value = (l: string): string => l.slice(l.lastIndexOf(' ') + 1);
      // Whatever this host runs: rollups (sums of many deltas) and the agent's own ratios are there.
      assert.ok(samples.some((l) => l.includes('nrdot_rollup="true"')) && samples.some((l) => l.startsWith('nrdot_agent_cpu_utilization_ratio ')), text);
      assert.ok(samples.some((l) => value(l).includes('.')), 'some values have fractions');
      // 0.2899999999999999 or 93.00000000000001: a long run of 9s or 0s before the last digit.
      const noisy = samples.filter((l) => /\.\d*(?:0{6}|9{6})\d*$/.test(value(l)) || !Number.isFinite(Number(value(l))));
      assert.deepEqual(noisy, []);
    } finally {
      await agent.stop();
    }
  });

  it('serves the API on a Unix socket when asked', async () => {
    const dir = dataDir();
    const socket = join(dir, 'api.sock');
    const agent = await startAgent(dir, [], { NRDOT_HTTP_ADDR: `unix:${socket}` });
    try {
      assert.equal(statSync(socket).isSocket(), true);
      const r = await ctl(dir, ['profile', 'set', 'minimal']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await ctl(dir, ['profile', 'get'])).stdout, 'minimal\n');
    } finally {
      await agent.stop();
    }
  });

  it('refuses mistaken and hostile input with a clear message and keeps running', async () => {
    const dir = dataDir();
    const agent = await startAgent(dir);
    try {
      const inherited = await ctl(dir, ['profile', 'set', 'constructor']);
      assert.equal(inherited.code, 2);
      assert.match(inherited.stderr, /no profile named "constructor"/);
      const forever = await ctl(dir, ['profile', 'pin', 'minimal', '--for', '999999d']);
      assert.equal(forever.code, 2);
      assert.match(forever.stderr, /--for.*a duration from 1s to 366d/);
      const day = JSON.parse((await ctl(dir, ['profile', 'pin', 'minimal', '--for', '1d', '--json'])).stdout) as Profile;
      assert.ok(Math.abs(day.pin!.until! - (Date.now() / 1000 + 86400)) < 60);
      const dots = await ctl(dir, ['explain', '..']);
      assert.equal(dots.code, 1);
      assert.match(dots.stderr, /no process named "\.\." in the latest interval/);
      const info = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { address: string };
      const unbounded = await fetch(`http://${info.address}/api/v1/kpis/history?limit=-1`);
      assert.equal(unbounded.status, 400);
      const [host, port] = info.address.split(':');
      const rebound = await new Promise<number>((resolve, reject) => {
        // fetch() will not send another Host; a browser led here by DNS rebinding would.
        const req = httpRequest({ host, port: Number(port), path: '/api/v1/config', headers: { host: `attacker.example:${port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(rebound, 403);
      assert.equal((await ctl(dir, ['status'])).code, 0, 'still serving');
    } finally {
      await agent.stop();
    }
  });

  it('takes over a stale agent.lock whose pid now belongs to another process (a crash, then a reboot)', async () => {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      // A lock of this version recording another boot, and one of an older version (the pid alone).
      for (const content of [`${other.pid}\nboot=00000000-0000-0000-0000-000000000000 start=1\n`, `${other.pid}\n`]) {
        const dir = dataDir();
        writeFileSync(join(dir, 'agent.lock'), content);
        const agent = await startAgent(dir);
        try {
          assert.equal(readFileSync(join(dir, 'agent.lock'), 'utf8').split('\n')[0], String(agent.child.pid), 'the lock is the new agent\'s');
        } finally {
          assert.equal(await agent.stop(), 0, agent.stderr);
        }
      }
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('allows one agent per data directory, even when two start at once, and never deletes what is at a socket path', async () => {
    const dir = dataDir();
    const a = AgentProcess.start(['--interval', '1'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' });
    const b = AgentProcess.start(['--interval', '1'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' });
    const outcome = (x: AgentProcess): Promise<string> => x.waitForLog(isInterval, 20_000, 'the first interval').then(() => 'running', () => 'refused');
    try {
      const results = await Promise.all([outcome(a), outcome(b)]);
      assert.deepEqual([...results].sort(), ['refused', 'running'], 'exactly one of the two is refused');
      const loser = results[0] === 'refused' ? a : b;
      assert.equal(loser.child.exitCode, 1);
      assert.match(loser.stderr, /another nrdot-plus \(pid \d+\) is running with the data directory/);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const other = dataDir();
    const precious = join(other, 'notes.txt');
    writeFileSync(precious, 'keep me\n');
    const refused = await run(AGENT, [], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: other, NRDOT_CONFIG: '', NRDOT_HTTP_ADDR: `unix:${precious}` } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NRDOT_HTTP_ADDR unix:.*notes\.txt: .*exists and is not a socket/);
    assert.equal(readFileSync(precious, 'utf8'), 'keep me\n');
    const notRecording = await run(AGENT, ['--replay', precious], { env: { ...process.env, NRDOT_DATA_DIR: dataDir(), NRDOT_CONFIG: '' } });
    assert.equal(notRecording.code, 1);
    assert.match(notRecording.stderr, /notes\.txt:1: invalid JSON/);
  });

  it('exits 3 with how to start the agent when none runs', async () => {
    const dir = dataDir();
    for (const args of [['status'], ['profile', 'set', 'minimal'], ['top'], ['metrics', 'json'], ['config', 'reload'], ['explain', '1']]) {
      const r = await ctl(dir, args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no nrdot-plus daemon is running .*start it with `nrdot-plus`/);
    }
  });

  it('replays a recording as fast as possible, with time from the snapshots, into the KPI history', async () => {
    const dir = dataDir();
    const recording = join(dir, 'web.ndjson.gz');
    const synth = await run(CTL, ['synth', '--archetype', 'web-php', '--intervals', '6', '--interval', '10', '--output', recording, '--json']);
    assert.equal(synth.code, 0, synth.stderr);
    assert.equal((JSON.parse(synth.stdout) as { snapshots: number }).snapshots, 6);
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' });
    try {
      const done = await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      assert.equal(done.intervals, 6);
      const status = JSON.parse((await ctl(dir, ['status', '--json'])).stdout) as { source: { kind: string; finished: boolean }; intervals: number };
      assert.deepEqual([status.source.kind, status.source.finished, status.intervals], ['replay', true, 6]);
      const info = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { address: string };
      const history = (await (await fetch(`http://${info.address}/api/v1/kpis/history`)).json()) as { rows: Array<{ time: number }> };
      const times = history.rows.map((r) => Math.floor(r.time));
      assert.deepEqual(times, [1764115200, 1764115210, 1764115220, 1764115230, 1764115240, 1764115250]);
    } finally {
      await agent.stop();
    }
  });

  it('applies the time schedule, on the snapshots\' time in a replay, and journals its rules', async () => {
    const dir = dataDir();
    const recording = join(dir, 'wednesday.ndjson.gz');
    // 1764115200 is Wednesday 2025-11-26 00:00 UTC; one snapshot a minute.
    const synth = await run(CTL, ['synth', '--archetype', 'web-php', '--intervals', '8', '--interval', '60', '--output', recording]);
    assert.equal(synth.code, 0, synth.stderr);
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, 'advanced:\n  time_based_rules: [{ name: nightly, schedule: "Wed 00:02-00:05", profile: minimal, timezone: UTC }]\n');
    // The control loop stopped (by the environment): the schedule alone decides.
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast', '--config', config], { NRDOT_DATA_DIR: dir, NRDOT_ENABLE_CONTROL_LOOP: 'false' });
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      const info = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { address: string };
      const history = (await (await fetch(`http://${info.address}/api/v1/kpis/history`)).json()) as { rows: Array<{ profile: string }> };
      assert.deepEqual(history.rows.map((r) => r.profile), ['balanced', 'balanced', 'minimal', 'minimal', 'minimal', 'balanced', 'balanced', 'balanced']);
      const journal = (await (await fetch(`http://${info.address}/api/v1/journal`)).json()) as { entries: Array<{ from: string; to: string; who: string; reason: string }> };
      const scheduled = journal.entries.filter((e) => e.who === 'schedule').map((e) => `${e.from}>${e.to}: ${e.reason}`);
      assert.deepEqual(scheduled, ['minimal>balanced: schedule: rule "nightly" ended', 'balanced>minimal: schedule: rule "nightly" (Wed 00:02-00:05, UTC) began']);
    } finally {
      await agent.stop();
    }
  });

  it('puts a pin over the schedule, and the schedule over a profile set by an operator', async () => {
    const dir = dataDir();
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, 'advanced:\n  time_based_rules: [{ name: always, schedule: "00:00-24:00", profile: minimal }]\n');
    const agent = await startAgent(dir, ['--config', config], { NRDOT_ENABLE_CONTROL_LOOP: 'true' });
    const journal = async (): Promise<Array<{ from: string; to: string; reason: string }>> =>
      (JSON.parse((await ctl(dir, ['profile', 'show', '--json'])).stdout) as { journal: Array<{ from: string; to: string; reason: string }> }).journal;
    /** The latest check, forced now, as control history records it, beside the profile status shows. */
    const checked = async (): Promise<{ outcome: string; from: string; to: string; reason: string; status: string }> => {
      assert.equal((await ctl(dir, ['control', 'force-check'])).code, 0);
      const [last] = (JSON.parse((await ctl(dir, ['control', 'history', '--limit', '1', '--json'])).stdout) as { checks: Array<{ outcome: string; from: string; to: string; reason: string }> }).checks;
      return { ...last!, status: (await ctl(dir, ['profile', 'get'])).stdout.trim() };
    };
    try {
      const status = await ctl(dir, ['status']);
      assert.match(status.stdout, /profile\s+minimal: schedule rule "always" \(00:00-24:00, UTC\)/);
      const set = JSON.parse((await ctl(dir, ['profile', 'set', 'aggressive', '--json', '--reason', 'for the night'])).stdout) as Profile & { note: string };
      assert.equal(set.profile, 'minimal');
      assert.match(set.note, /the schedule applies minimal: aggressive takes effect when schedule rule "always" ends/);
      // The journal says what changed in force (nothing), and why.
      const [stored] = await journal();
      assert.deepEqual(stored, { ...stored, from: 'minimal', to: 'minimal', reason: 'for the night; stored profile set to aggressive; minimal stays in force under schedule rule "always"' });
      const scheduled = await checked();
      assert.deepEqual([scheduled.outcome, scheduled.from, scheduled.to, scheduled.status], ['schedule', 'minimal', 'minimal', 'minimal']);

      await ctl(dir, ['profile', 'pin', 'conservative']);
      assert.equal((await ctl(dir, ['profile', 'get'])).stdout, 'conservative\n');
      assert.deepEqual([(await journal())[0]!.from, (await journal())[0]!.to], ['minimal', 'conservative']);
      // Right after the pin the latest interval is still minimal's: the check says pinned, as status does.
      const pinned = await checked();
      assert.deepEqual([pinned.outcome, pinned.from, pinned.to, pinned.status], ['pinned', 'conservative', 'conservative', 'conservative']);
      assert.equal(pinned.reason, 'pinned to conservative: the loop does not act');

      await ctl(dir, ['profile', 'unpin', '--reason', 'done']);
      assert.equal((await ctl(dir, ['profile', 'get'])).stdout, 'minimal\n');
      const [unpinned] = await journal();
      assert.deepEqual([unpinned!.from, unpinned!.to, unpinned!.reason], ['conservative', 'minimal', 'done; minimal in force under schedule rule "always"']);
    } finally {
      await agent.stop();
    }
  });

  it('takes flags over environment over the file over defaults', async () => {
    const dir = dataDir();
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, 'cost_model: { collection_interval_seconds: 30 }\n');
    const start = async (args: string[], env: Record<string, string>): Promise<LogLine> => {
      const a = AgentProcess.start([...args, '--config', config], { NRDOT_DATA_DIR: dataDir(), ...env });
      try {
        return await a.waitForLog((l) => typeof l.listen === 'string', 10_000, 'the start line');
      } finally {
        await a.stop();
      }
    };
    assert.equal((await start([], {})).interval_s, 30);
    assert.equal((await start([], { NRDOT_COLLECTION_INTERVAL: '20' })).interval_s, 20);
    assert.equal((await start(['--interval', '5'], { NRDOT_COLLECTION_INTERVAL: '20' })).interval_s, 5);
    const bad = await run(CTL, ['config', 'show', '--config', config], { env: { ...process.env, NRDOT_MAX_SERIES: 'many' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NRDOT_MAX_SERIES: .*got "many".*control_loop\.max_series/);
  });
});
