import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import type { RuleConfig } from '../config/index.js';
import { CTL, run } from '../../test/run.js';
import { readRecording } from './recording.js';
import { ANOMALY_HISTORY, ARCHETYPES, anomalyIntervals, dailyFactor, generate, SyntheticHost, truthPath, type Archetype, type GroundTruth, type TruthAnomaly } from './synth.js';
import { SNAPSHOT_SCHEMA, type ProcessSample, type Snapshot } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MB = 1024 * 1024;
const key = (p: ProcessSample): string => `${p.pid}@${p.start_time}`;
const cpuOf = (p: ProcessSample): number => p.cpu_user_seconds + p.cpu_system_seconds;
const isKernelThread = (p: ProcessSample): boolean => (p.pid === 2 || p.ppid === 2) && p.exe === '' && p.cmdline === '';

/** Recordings generated once per archetype and shared by the tests below. */
const cache = new Map<string, { snapshots: Snapshot[]; truth: GroundTruth }>();
function recording(archetype: Archetype, intervals = 60, intervalSeconds = 60, seed = 1): { snapshots: Snapshot[]; truth: GroundTruth } {
  const k = `${archetype}/${intervals}/${intervalSeconds}/${seed}`;
  let r = cache.get(k);
  if (!r) {
    r = generate({ archetype, intervals, intervalSeconds, seed });
    cache.set(k, r);
  }
  return r;
}

/**
 * First-match classification by the shipped rules (SPEC, "Classification"), enough to check that the
 * synthetic processes land in the tiers they are meant to: kernel threads by structure, then the
 * tiers in configuration order, name patterns (linux, common) before rules.
 */
function ruleMatches(rule: RuleConfig, p: ProcessSample): boolean {
  if (rule.kernel_thread !== undefined && rule.kernel_thread !== isKernelThread(p)) return false;
  if (rule.name !== undefined && !new RegExp(rule.name).test(p.name)) return false;
  if (rule.cmdline !== undefined && !new RegExp(rule.cmdline).test(p.cmdline)) return false;
  if (rule.exe !== undefined && !new RegExp(rule.exe).test(p.exe)) return false;
  if (rule.user !== undefined && !new RegExp(rule.user).test(p.user)) return false;
  return rule.not === undefined || !ruleMatches(rule.not, p);
}

function tierOf(p: ProcessSample): string {
  for (const [tier, cfg] of Object.entries(DEFAULT_CONFIG.process_classification)) {
    const patterns = [...(cfg.patterns?.linux ?? []), ...(cfg.patterns?.common ?? [])];
    if (patterns.some((re) => new RegExp(re).test(p.name))) return tier;
    for (const rule of cfg.rules ?? []) if (ruleMatches(rule, p)) return tier;
  }
  return 'default';
}

/** CPU rate (cores) of an identity over the interval ending at snapshot i; null when not in both snapshots. */
function rateAt(snapshots: Snapshot[], i: number, pid: number, startTime: number): number | null {
  const cur = snapshots[i]?.processes.find((p) => p.pid === pid && p.start_time === startTime);
  const prev = snapshots[i - 1]?.processes.find((p) => p.pid === pid && p.start_time === startTime);
  if (!cur || !prev) return null;
  return (cpuOf(cur) - cpuOf(prev)) / ((snapshots[i] as Snapshot).timestamp - (snapshots[i - 1] as Snapshot).timestamp);
}

function find(s: Snapshot, a: TruthAnomaly): ProcessSample | undefined {
  return s.processes.find((p) => p.pid === a.pid && p.start_time === a.start_time);
}

const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;

describe('synth: determinism', () => {
  it('gives identical snapshots and truth for the same seed, different ones for another seed', () => {
    for (const archetype of ARCHETYPES) {
      const a = generate({ archetype, intervals: 15, seed: 7 });
      const b = generate({ archetype, intervals: 15, seed: 7 });
      assert.deepEqual(a.snapshots, b.snapshots, archetype);
      assert.deepEqual(a.truth, b.truth, archetype);
      const c = generate({ archetype, intervals: 15, seed: 8 });
      assert.notDeepEqual(a.snapshots, c.snapshots, archetype);
      assert.equal(c.snapshots[0]?.host.id, `${archetype}-8`);
    }
  });

  it('does not depend on how the snapshots are consumed (streaming or all at once)', () => {
    const host = new SyntheticHost({ archetype: 'web-php', intervals: 14, seed: 3 });
    assert.throws(() => host.truth(), /complete only once/);
    const streamed: string[] = [];
    for (const s of host.snapshots()) streamed.push(JSON.stringify(s));
    const whole = generate({ archetype: 'web-php', intervals: 14, seed: 3 });
    assert.deepEqual(streamed, whole.snapshots.map((s) => JSON.stringify(s)));
    assert.deepEqual(host.truth(), whole.truth);
  });

  it('rejects bad options', () => {
    assert.throws(() => new SyntheticHost({ archetype: 'mainframe' as Archetype, intervals: 3 }), /unknown archetype "mainframe"/);
    assert.throws(() => new SyntheticHost({ archetype: 'db-host', intervals: 0 }), /intervals/);
    assert.throws(() => new SyntheticHost({ archetype: 'db-host', intervals: 3, intervalSeconds: 0 }), /intervalSeconds/);
  });
});

describe('synth: every snapshot is a valid, consistent recording', () => {
  const counters = ['cpu_user_seconds', 'cpu_system_seconds', 'io_read_bytes', 'io_write_bytes', 'minor_faults', 'major_faults', 'ctx_voluntary', 'ctx_involuntary'] as const;
  const integers = ['pid', 'ppid', 'rss_bytes', 'vms_bytes', 'threads', 'fds', 'io_read_bytes', 'io_write_bytes', 'minor_faults', 'major_faults', 'ctx_voluntary', 'ctx_involuntary'] as const;

  for (const [archetype, intervals, interval] of [...ARCHETYPES.map((a) => [a, 60, 60] as const), ['ci-runner', 40, 10] as const, ['db-host', 20, 5] as const]) {
    it(`${archetype}, ${intervals} x ${interval} s`, () => {
      const { snapshots } = recording(archetype, intervals, interval);
      assert.equal(snapshots.length, intervals);
      const host = snapshots[0]?.host;
      assert.ok(host);
      assert.equal(host.id, `${archetype}-1`);
      assert.ok(host.cpus === 8 || host.cpus === 16);
      assert.ok(host.memory_bytes === 32 * 1024 * MB || host.memory_bytes === 64 * 1024 * MB);
      assert.ok(host.boot_time < 1764115200 - 3600 && Number.isInteger(host.boot_time));
      assert.ok(Math.abs((snapshots[0]?.timestamp ?? 0) - 1764115200) < 0.1);
      const last = new Map<string, ProcessSample>();
      const statics = new Map<string, string>();
      let prevT = -Infinity;
      let prevMaxPid = 0;
      for (const s of snapshots) {
        assert.equal(s.schema, SNAPSHOT_SCHEMA);
        assert.deepEqual(s.host, host);
        assert.ok(s.timestamp > prevT && Number.isFinite(s.timestamp));
        if (prevT > -Infinity) assert.ok(Math.abs(s.timestamp - prevT - interval) < 0.1);
        const pids = new Set(s.processes.map((p) => p.pid));
        assert.equal(pids.size, s.processes.length, 'unique pids');
        const byPid = new Map(s.processes.map((p) => [p.pid, p]));
        // The kernel hands out pids increasingly: by pid, start times never go back (no wrap).
        const ordered = s.processes.filter((p) => p.pid > 2).sort((x, y) => x.pid - y.pid);
        for (let i = 1; i < ordered.length; i++) assert.ok((ordered[i] as ProcessSample).start_time >= (ordered[i - 1] as ProcessSample).start_time, `pid order of ${ordered[i]?.name}`);
        let maxPid = 0;
        for (const p of s.processes) {
          for (const [field, value] of Object.entries(p)) {
            if (typeof value === 'number') assert.ok(Number.isFinite(value) && value >= 0, `${field} of ${p.name}: ${value}`);
          }
          for (const field of integers) assert.ok(Number.isInteger(p[field]), `${field} of ${p.name}`);
          assert.ok(p.fds !== null && p.io_read_bytes !== null && p.io_write_bytes !== null, 'read as root: nothing is null');
          assert.ok(p.start_time <= s.timestamp && p.start_time >= host.boot_time, `start_time of ${p.name}`);
          assert.equal(Math.round(p.start_time * 100) / 100, p.start_time, 'start_time in ticks');
          assert.equal(Math.round(p.cpu_user_seconds * 100) / 100, p.cpu_user_seconds, 'cpu in ticks');
          assert.ok(p.rss_bytes <= p.vms_bytes);
          assert.ok(p.ppid === 0 || pids.has(p.ppid), `parent ${p.ppid} of ${p.pid} ${p.name} exists`);
          assert.ok(p.ppid === 0 || (byPid.get(p.ppid) as ProcessSample).start_time <= p.start_time, `${p.name} starts after its parent`);
          assert.ok(['R', 'S', 'D', 'I', 'Z'].includes(p.state), p.state);
          if (p.state === 'Z') assert.ok(p.exe === '' && p.cmdline === '' && p.rss_bytes === 0);
          const k = key(p);
          const prev = last.get(k);
          if (prev) {
            for (const c of counters) assert.ok((p[c] as number) >= (prev[c] as number), `${c} of ${p.name} (${k}) decreased`);
          } else {
            // A new identity got a pid above every earlier one (no wrap), unless it is from the first snapshot.
            if (prevT > -Infinity) assert.ok(p.pid > prevMaxPid, `new ${p.name} pid ${p.pid} > ${prevMaxPid}`);
          }
          const st = `${p.name}\0${p.user}\0${p.state === 'Z' ? '' : p.exe}\0${p.state === 'Z' ? '' : p.cmdline}`;
          if (!statics.has(k)) statics.set(k, st);
          else if (p.state !== 'Z') assert.equal(statics.get(k), st, `static attributes of ${k}`);
          last.set(k, p);
          maxPid = Math.max(maxPid, p.pid);
        }
        prevMaxPid = Math.max(prevMaxPid, maxPid);
        prevT = s.timestamp;
      }
    });
  }

  it('has kernel threads and the base system on every host', () => {
    for (const archetype of ARCHETYPES) {
      const s = recording(archetype).snapshots[20] as Snapshot;
      const byPid = new Map(s.processes.map((p) => [p.pid, p]));
      assert.deepEqual(byPid.get(1) && [byPid.get(1)?.name, byPid.get(1)?.cmdline, byPid.get(1)?.ppid], ['systemd', '/sbin/init', 0]);
      const kthreadd = byPid.get(2);
      assert.ok(kthreadd && kthreadd.name === 'kthreadd' && kthreadd.ppid === 0 && kthreadd.exe === '' && kthreadd.cmdline === '');
      const kernel = s.processes.filter((p) => p.ppid === 2);
      assert.ok(kernel.length >= 40 && kernel.length <= 80, `${archetype}: ${kernel.length} kernel threads`);
      for (const p of [kthreadd, ...kernel]) {
        assert.ok(isKernelThread(p), p.name);
        assert.deepEqual([p.rss_bytes, p.vms_bytes, p.fds, p.io_read_bytes, p.io_write_bytes, p.user], [0, 0, 0, 0, 0, 'root'], p.name);
        assert.equal(tierOf(p), 'noise', p.name);
      }
      for (const name of ['ksoftirqd/0', 'migration/0', 'rcu_preempt', 'jbd2/vda1-8']) assert.ok(kernel.some((p) => p.name === name), name);
      assert.ok(kernel.some((p) => /^kworker\/u\d+:\d+-flush-253:0$/.test(p.name) || p.name.startsWith('kworker/u')));
      const has = (name: string, cmdline?: RegExp): ProcessSample[] => s.processes.filter((p) => p.name === name && (!cmdline || cmdline.test(p.cmdline)));
      for (const name of ['systemd-journal', 'systemd-udevd', 'systemd-logind', 'cron', 'rsyslogd', 'dbus-daemon', 'chronyd', 'agetty', 'tmux: server', 'vim', 'htop']) assert.ok(has(name).length > 0, `${archetype}: ${name}`);
      const listener = has('sshd', /\[listener\]/);
      assert.equal(listener.length, 1);
      assert.equal(tierOf(listener[0] as ProcessSample), 'critical_system');
      const priv = has('sshd', /^sshd: alice \[priv\]$/);
      const pts = has('sshd', /^sshd: alice@pts\/0$/);
      assert.ok(priv.length === 1 && pts.length === 1);
      assert.notEqual(tierOf(pts[0] as ProcessSample), 'critical_system');
      assert.ok(has('bash', /^-bash$/).some((p) => p.ppid === pts[0]?.pid), 'the login shell under sshd: alice@pts/0');
      assert.ok(s.processes.some((p) => tierOf(p) === 'monitoring'), `${archetype}: a monitoring agent`);
    }
  });
});

describe('synth: archetypes', () => {
  it('k8s-node: kubelet, containerd, ~30 pods of shims, pauses, JVMs, Node, Python, envoy', () => {
    const s = recording('k8s-node').snapshots[30] as Snapshot;
    assert.ok(s.processes.length >= 240 && s.processes.length <= 400, `${s.processes.length} processes`);
    const named = (name: string): ProcessSample[] => s.processes.filter((p) => p.name === name);
    for (const name of ['kubelet', 'containerd', 'kube-proxy', 'calico-node', 'fluent-bit']) assert.ok(named(name).length > 0, name);
    const shims = named('containerd-shim');
    assert.ok(shims.length >= 25 && shims.length <= 40, `${shims.length} pods`);
    assert.ok(shims.every((p) => p.exe === '/usr/bin/containerd-shim-runc-v2' && tierOf(p) === 'container'));
    assert.equal(named('pause').length, shims.length);
    const java = named('java');
    assert.ok(java.length >= 7 && java.every((p) => /^java .*-jar \/app\/\w+\.jar/.test(p.cmdline) && p.threads >= 40 && tierOf(p) === 'application'));
    assert.ok(java.filter((p) => p.rss_bytes >= 500 * MB).length >= 6);
    assert.ok(named('node').length >= 7 && named('node').every((p) => /^node /.test(p.cmdline)));
    const py = named('python3');
    assert.ok(py.some((p) => p.cmdline.startsWith('python3 -m gunicorn app:app')) && py.some((p) => p.cmdline === 'python3 worker.py'));
    assert.ok(named('envoy').length >= 2 && named('envoy').every((p) => tierOf(p) === 'web_server'));
  });

  it('db-host: postmaster, background workers, >= 250 client backends, pgbouncer', () => {
    const s = recording('db-host').snapshots[30] as Snapshot;
    assert.ok(s.processes.length >= 350 && s.processes.length <= 480, `${s.processes.length} processes`);
    const pg = s.processes.filter((p) => p.name === 'postgres');
    const sessions = pg.filter((p) => /^postgres: 15\/main: \w+ \w+ (\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]) (idle|active|idle in transaction)$/.test(p.cmdline));
    assert.ok(sessions.length >= 250, `${sessions.length} client backends`);
    assert.ok(sessions.every((p) => tierOf(p) === 'db_session'));
    // 10-30 MB each, but for the backend that may be leaking by now (an injected anomaly).
    assert.ok(sessions.filter((p) => p.rss_bytes < 8 * MB || p.rss_bytes > 40 * MB).length <= 1);
    assert.ok(sessions.some((p) => p.cmdline.endsWith(' active')) && sessions.some((p) => p.cmdline.endsWith(' idle in transaction')));
    const postmaster = pg.find((p) => p.cmdline.startsWith('/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main'));
    assert.ok(postmaster && tierOf(postmaster) === 'database');
    for (const title of ['checkpointer', 'background writer', 'walwriter', 'autovacuum launcher', 'logical replication launcher']) {
      const w = pg.find((p) => p.cmdline === `postgres: 15/main: ${title}`);
      assert.ok(w && w.ppid === postmaster.pid && tierOf(w) === 'database', title);
    }
    assert.ok(pg.some((p) => p.cmdline.startsWith('postgres: 15/main: walsender replicator')));
    assert.ok(sessions.every((p) => p.ppid === postmaster.pid));
    assert.ok(s.processes.some((p) => p.name === 'pgbouncer'));
  });

  it('web-php: nginx master and 8 workers, php-fpm master and 100 workers, redis, memcached', () => {
    const s = recording('web-php').snapshots[30] as Snapshot;
    const nginx = s.processes.filter((p) => p.name === 'nginx');
    const master = nginx.find((p) => p.cmdline === 'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;');
    assert.ok(master && master.user === 'root');
    assert.equal(nginx.filter((p) => p.cmdline === 'nginx: worker process' && p.user === 'www-data' && p.ppid === master.pid).length, 8);
    const fpm = s.processes.filter((p) => p.name === 'php-fpm8.2');
    const fpmMaster = fpm.find((p) => p.cmdline === 'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)');
    assert.ok(fpmMaster);
    const workers = fpm.filter((p) => p.cmdline === 'php-fpm: pool www' && p.user === 'www-data' && p.ppid === fpmMaster.pid);
    assert.ok(workers.length >= 100, `${workers.length} php-fpm workers`);
    assert.ok(workers.every((p) => p.rss_bytes >= 30 * MB && p.rss_bytes <= 600 * MB && tierOf(p) === 'application'));
    for (const name of ['redis-server', 'memcached']) assert.ok(s.processes.some((p) => p.name === name), name);
  });

  it('ci-runner: new short-lived compiler identities in most intervals, some spanning two snapshots', () => {
    const { snapshots } = recording('ci-runner');
    let withNewCc1 = 0;
    const seen = new Map<string, number>();
    for (let i = 1; i < snapshots.length; i++) {
      const s = snapshots[i] as Snapshot;
      const from = (snapshots[i - 1] as Snapshot).timestamp;
      const cc1 = s.processes.filter((p) => p.name === 'cc1' && p.start_time > from);
      if (cc1.length > 0) withNewCc1++;
      for (const p of cc1) {
        assert.equal(p.exe, '/usr/lib/gcc/x86_64-linux-gnu/12/cc1');
        const age = s.timestamp - p.start_time;
        if (age >= 2) assert.ok(cpuOf(p) / age > 0.7, `compilers are busy: ${cpuOf(p)} s in ${age} s`);
      }
      for (const p of s.processes) if (['cc1', 'cc1plus', 'as', 'ld', 'rustc', 'go', 'sh', 'make'].includes(p.name)) seen.set(key(p), (seen.get(key(p)) ?? 0) + 1);
    }
    assert.ok(withNewCc1 >= 0.8 * (snapshots.length - 1), `new cc1 in ${withNewCc1} of ${snapshots.length - 1} intervals`);
    const counts = [...seen.values()];
    assert.ok(counts.length >= 10 * snapshots.length, `${counts.length} build identities`);
    assert.ok(counts.filter((c) => c === 1).length > 0.6 * counts.length, 'most live less than an interval');
    assert.ok(counts.some((c) => c >= 2), 'some span two snapshots');
    const names = new Set(snapshots.flatMap((s) => s.processes.map((p) => p.name)));
    for (const name of ['gitlab-runner', 'dockerd', 'containerd', 'java', 'make', 'cc1', 'cc1plus', 'rustc']) assert.ok(names.has(name), name);
  });

  it('shows churn and an occasional zombie on every host', () => {
    for (const archetype of ARCHETYPES) {
      const { snapshots } = recording(archetype);
      let started = 0;
      for (let i = 1; i < snapshots.length; i++) {
        const before = new Set((snapshots[i - 1] as Snapshot).processes.map(key));
        started += (snapshots[i] as Snapshot).processes.filter((p) => !before.has(key(p))).length;
      }
      assert.ok(started >= snapshots.length - 1, `${archetype}: ${started} new identities`);
    }
    const zombies = ARCHETYPES.flatMap((a) => recording(a).snapshots.flatMap((s) => s.processes.filter((p) => p.state === 'Z')));
    assert.ok(zombies.length > 0);
  });
});

describe('synth: ground truth', () => {
  it('sizes anomalies: max(3 intervals, 180 s), at most 240 s unless under 3 intervals', () => {
    assert.deepEqual([60, 10, 1, 30, 45, 70, 90, 100, 600].map(anomalyIntervals), [3, 18, 180, 6, 4, 3, 3, 3, 3]);
  });

  it('names the truth file after the recording', () => {
    assert.equal(truthPath('day.ndjson.gz'), 'day.truth.json');
    assert.equal(truthPath('/x/day.ndjson'), '/x/day.truth.json');
    assert.equal(truthPath('day.gz'), 'day.truth.json');
    assert.equal(truthPath('day.json'), 'day.json.truth.json');
  });

  it('injects what fits: none under 12 snapshots, one at 12, all four in an hour', () => {
    assert.equal(generate({ archetype: 'web-php', intervals: 11 }).truth.anomalies.length, 0);
    assert.equal(generate({ archetype: 'web-php', intervals: 12 }).truth.anomalies.length, 1);
    assert.equal(recording('web-php').truth.anomalies.length, 4);
    assert.equal(generate({ archetype: 'db-host', intervals: 40, intervalSeconds: 10 }).truth.anomalies.length, 1);
  });

  for (const [archetype, intervals, interval] of [...ARCHETYPES.map((a) => [a, 60, 60] as const), ['k8s-node', 100, 10] as const, ['ci-runner', 200, 5] as const]) {
    it(`${archetype}, ${intervals} x ${interval} s: every anomaly is where the truth says, and visible`, () => {
      const { snapshots, truth } = recording(archetype, intervals, interval);
      assert.deepEqual([truth.archetype, truth.seed, truth.intervals, truth.interval_seconds], [archetype, 1, intervals, interval]);
      const d = anomalyIntervals(interval);
      const expected = Math.min(4, Math.floor((intervals - ANOMALY_HISTORY) / (d + 1)));
      assert.equal(truth.anomalies.length, expected);
      assert.deepEqual(new Set(truth.anomalies.map((a) => a.kind)).size, expected, 'each kind once');
      assert.equal(new Set(truth.anomalies.map((a) => `${a.pid}@${a.start_time}`)).size, expected, 'different processes');
      const ts = snapshots.map((s) => s.timestamp);
      let previousEnd = -1;
      for (const a of truth.anomalies) {
        const from = ts.indexOf(a.from_timestamp);
        const to = ts.indexOf(a.to_timestamp);
        assert.ok(from >= ANOMALY_HISTORY, `${a.kind} starts after ${ANOMALY_HISTORY} snapshots of history`);
        assert.equal(to - from + 1, d, `${a.kind} lasts ${d} snapshots`);
        assert.ok(to < snapshots.length - 1, 'a snapshot follows every anomaly');
        assert.ok(from > previousEnd, 'anomalies do not overlap');
        previousEnd = to;
        assert.ok(a.description.length > 20);
        for (let i = from; i <= to; i++) {
          const p = find(snapshots[i] as Snapshot, a);
          assert.ok(p && p.name === a.name, `${a.kind} ${a.name} present at snapshot ${i}`);
        }
        const window: number[] = [];
        for (let i = from + (a.kind === 'runaway_batch' ? 1 : 0); i <= to; i++) window.push(rateAt(snapshots, i, a.pid, a.start_time) as number);
        const before: number[] = [];
        for (let i = 1; i < from; i++) {
          const r = rateAt(snapshots, i, a.pid, a.start_time);
          if (r !== null) before.push(r);
        }
        switch (a.kind) {
          case 'cpu_spike':
            assert.equal(before.length, from - 1, 'an existing process with history');
            assert.ok(mean(before) < 0.1 && mean(window) > 0.55 && mean(window) < 0.85, `cpu ${mean(before)} -> ${mean(window)}`);
            assert.ok((rateAt(snapshots, to + 1, a.pid, a.start_time) ?? 1) < 0.2, 'back to normal after the window');
            break;
          case 'subtle_shift': {
            assert.equal(before.length, from - 1);
            const spread = Math.max(...before) - Math.min(...before);
            // Noise of +-0.1 percentage point, plus the rounding of two counters to clock ticks (0.01 s).
            assert.ok(mean(before) < 0.02 && spread < 0.0025 + 0.04 / interval, `steady before: mean ${mean(before)}, spread ${spread}`);
            assert.ok(window.every((r) => r > 0.075 && r < 0.095), `shifted to ${window.join(', ')}`);
            break;
          }
          case 'memory_leak': {
            assert.equal(before.length, from - 1);
            const rss = (i: number): number => (find(snapshots[i] as Snapshot, a) as ProcessSample).rss_bytes;
            for (let i = from; i <= to; i++) assert.ok(rss(i) - rss(i - 1) > 60 * MB, `grows at ${i}: ${(rss(i) - rss(i - 1)) / MB} MB`);
            for (let i = 1; i < from; i++) assert.ok(Math.abs(rss(i) - rss(i - 1)) < 30 * MB, 'steady before');
            assert.ok(rss(to + 1) > rss(to) - 20 * MB, 'stays after');
            break;
          }
          case 'runaway_batch': {
            const first = find(snapshots[from] as Snapshot, a) as ProcessSample;
            assert.equal(find(snapshots[from - 1] as Snapshot, a), undefined, 'new');
            assert.equal(find(snapshots[to + 1] as Snapshot, a), undefined, 'gone after the window');
            assert.ok(a.start_time > (ts[from - 1] as number) && a.start_time <= (ts[from] as number), 'started inside the interval');
            assert.equal(first.cmdline, 'python3 /opt/jobs/reindex.py');
            assert.equal(first.name, 'python3');
            assert.ok(cpuOf(first) / ((ts[from] as number) - a.start_time) > 0.85, 'busy since it started');
            assert.ok(window.every((r) => r > 0.85));
            break;
          }
        }
      }
    });
  }

  it('follows the time of day (0.4 to 1.6)', () => {
    const day = Array.from({ length: 48 }, (_, h) => dailyFactor(1764115200 + h * 1800));
    assert.ok(Math.min(...day) >= 0.399 && Math.max(...day) <= 1.601 && Math.max(...day) - Math.min(...day) > 1.1);
  });

  it('generates a day of 400 processes in a few seconds', () => {
    const t0 = performance.now();
    let samples = 0;
    for (const s of new SyntheticHost({ archetype: 'db-host', intervals: 1440 }).snapshots()) samples += s.processes.length;
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(samples > 1440 * 380);
    assert.ok(seconds < 15, `${seconds} s`);
  });
});

describe('nrdot-plus-ctl synth', () => {
  it('writes the recording and its ground truth, byte-identical for the same arguments', async () => {
    const outputs: Buffer[][] = [];
    for (const name of ['a', 'b']) {
      const file = join(dir, `${name}.ndjson.gz`);
      const r = await run(CTL, ['synth', '--archetype', 'web-php', '--intervals', '13', '--seed', '5', '--output', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /13 snapshot\(s\) of web-php/);
      const truthFile = join(dir, `${name}.truth.json`);
      assert.ok(existsSync(truthFile));
      outputs.push([readFileSync(file), readFileSync(truthFile)]);
    }
    assert.ok(outputs[0]?.[0]?.equals(outputs[1]?.[0] as Buffer), 'same recording bytes');
    assert.ok(outputs[0]?.[1]?.equals(outputs[1]?.[1] as Buffer), 'same truth bytes');
    const snapshots: Snapshot[] = [];
    for await (const s of readRecording(join(dir, 'a.ndjson.gz'))) snapshots.push(s);
    const expected = generate({ archetype: 'web-php', intervals: 13, seed: 5 });
    assert.deepEqual(snapshots, expected.snapshots);
    const truth = JSON.parse(readFileSync(join(dir, 'a.truth.json'), 'utf8')) as GroundTruth;
    assert.deepEqual(truth, expected.truth);
    assert.deepEqual(Object.keys(truth), ['archetype', 'seed', 'intervals', 'interval_seconds', 'anomalies']);
    assert.deepEqual(Object.keys(truth.anomalies[0] ?? {}), ['kind', 'pid', 'start_time', 'name', 'from_timestamp', 'to_timestamp', 'description']);
  });

  it('takes --interval and --start, and writes plain NDJSON without .gz', async () => {
    const file = join(dir, 'plain.ndjson');
    const r = await run(CTL, ['synth', '--archetype', 'ci-runner', '--intervals', '3', '--interval', '15', '--start', '1700000000', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Snapshot);
    assert.equal(lines.length, 3);
    assert.ok(Math.abs((lines[2]?.timestamp ?? 0) - 1700000030) < 0.1);
    const truth = JSON.parse(readFileSync(join(dir, 'plain.truth.json'), 'utf8')) as GroundTruth;
    assert.deepEqual([truth.interval_seconds, truth.anomalies.length], [15, 0]);
  });

  it('exits 2 naming an unknown archetype or a bad value, and lists the archetypes in --help', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--archetype', 'mainframe', '--intervals', '3', '-o', join(dir, 'x.ndjson')], /mainframe/],
      [['--archetype', 'db-host', '--intervals', '0', '-o', join(dir, 'x.ndjson')], /--intervals/],
      [['--archetype', 'db-host', '--intervals', '3'], /--output/],
      [['--archetype', 'db-host', '--intervals', '3', '--seed', 'x', '-o', join(dir, 'x.ndjson')], /--seed/],
      [['--archetype', 'db-host', '--intervals', '3', '-o', '-'], /--output/],
    ];
    for (const [args, message] of cases) {
      const r = await run(CTL, ['synth', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const bad = await run(CTL, ['synth', '--archetype', 'db-host', '--intervals', '3', '-o', join(dir, 'no', 'such', 'dir.ndjson')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--output .*no\/such\/dir\.ndjson/);
    const help = await run(CTL, ['synth', '--help']);
    assert.equal(help.code, 0);
    for (const a of ARCHETYPES) assert.ok(help.stdout.includes(a), a);
  });
});
