import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultConfig } from '../config/index.js';
import { boundCmdline, CUT_MARK, MAX_CMDLINE } from '../snapshot/cmdline.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';
import { Classifier } from './classify.js';
import { emptyState, Pipeline, ProfileSet, type Kpis, type PipelineState, type ResourceSeries } from './index.js';
import { chooseTopK } from './select.js';
import { describeMissed } from '../cli/explain.js';
import { inputDeltas } from '../../test/totals.js';

const config = defaultConfig();
// A profile with a reservoir sample, so that the invariants cover sampled processes too.
config.profiles.sampled = { ...structuredClone(config.profiles.balanced!), sampling: { reservoir_size: 3 } };
const PROFILES = Object.keys(config.profiles);
const HOST = { id: 'h1', name: 'h1', cpus: 8, memory_bytes: 32 * 2 ** 30, boot_time: 1_700_000_000 };

function proc(pid: number, over: Partial<ProcessSample> = {}): ProcessSample {
  return {
    pid, ppid: 1, name: 'worker', exe: '/usr/bin/worker', cmdline: 'worker --serve', user: 'app', state: 'S',
    start_time: HOST.boot_time + 10, cpu_user_seconds: 1, cpu_system_seconds: 0.5, rss_bytes: 10 * 2 ** 20, vms_bytes: 200 * 2 ** 20,
    threads: 2, fds: 10, io_read_bytes: 1000, io_write_bytes: 2000, minor_faults: 5, major_faults: 0, ctx_voluntary: 10, ctx_involuntary: 1,
    ...over,
  };
}

function snap(t: number, processes: ProcessSample[]): Snapshot {
  return { schema: 'nrdot.snapshot/v1', host: HOST, timestamp: t, processes };
}

const CRITICAL_TEMPLATES: Array<Partial<ProcessSample>> = [
  { name: 'systemd', exe: '/usr/lib/systemd/systemd', cmdline: '/sbin/init', user: 'root' },
  { name: 'sshd', exe: '/usr/sbin/sshd', cmdline: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups', user: 'root' },
  { name: 'postgres', exe: '/usr/lib/postgresql/15/bin/postgres', cmdline: 'postgres: 15/main: checkpointer', user: 'postgres' },
];
const OTHER_TEMPLATES: Array<Partial<ProcessSample>> = [
  { name: 'postgres', exe: '/usr/lib/postgresql/15/bin/postgres', cmdline: 'postgres: 15/main: app shop 10.0.1.2(5123) idle', user: 'postgres' },
  { name: 'php-fpm8.2', exe: '/usr/sbin/php-fpm8.2', cmdline: 'php-fpm: pool www', user: 'www-data' },
  { name: 'nginx', exe: '/usr/sbin/nginx', cmdline: 'nginx: worker process', user: 'www-data' },
  { name: 'java', exe: '/usr/bin/java', cmdline: 'java -jar app.jar --db-password=s3cret', user: 'app' },
  { name: 'kworker/0:1-events', exe: '', cmdline: '', user: 'root', ppid: 2 },
  { name: 'cc1', exe: '/usr/lib/gcc/x86_64-linux-gnu/12/cc1', cmdline: 'cc1 -quiet main.c', user: 'ci' },
  { name: 'cron', exe: '/usr/sbin/cron', cmdline: '/usr/sbin/cron -f', user: 'root' },
];

/** A host over several intervals: processes with growing counters, some leaving and arriving. */
const hostArb = fc
  .record({
    critical: fc.array(fc.nat(CRITICAL_TEMPLATES.length - 1), { minLength: 0, maxLength: 4 }),
    others: fc.array(
      fc.record({
        template: fc.nat(OTHER_TEMPLATES.length - 1),
        cpu: fc.double({ min: 0, max: 1.5, noNaN: true }),
        rss: fc.nat(2000),
        io: fc.option(fc.nat(5_000_000), { freq: 4 }),
        lifetime: fc.tuple(fc.nat(5), fc.nat(5)),
      }),
      { minLength: 1, maxLength: 60 },
    ),
    intervals: fc.integer({ min: 2, max: 6 }),
  })
  .map(({ critical, others, intervals }) => {
    const step = 60;
    const t0 = HOST.boot_time + 3600;
    const snapshots: Snapshot[] = [];
    for (let i = 0; i < intervals; i++) {
      const t = t0 + i * step;
      const list: ProcessSample[] = [];
      critical.forEach((c, j) => list.push(proc(100 + j, { ...CRITICAL_TEMPLATES[c]!, cpu_user_seconds: 5 + i * 0.3, io_read_bytes: 100 * i, io_write_bytes: 50 * i })));
      others.forEach((o, j) => {
        const [from, len] = o.lifetime;
        if (i < from || i > from + len) return;
        const start = from === 0 ? HOST.boot_time + 100 : t0 + (from - 1) * step + 7;
        const age = t - start;
        list.push(proc(1000 + j, {
          ...OTHER_TEMPLATES[o.template]!,
          start_time: start,
          cpu_user_seconds: Math.round(age * o.cpu * 0.8 * 100) / 100,
          cpu_system_seconds: Math.round(age * o.cpu * 0.2 * 100) / 100,
          rss_bytes: o.rss * 2 ** 20,
          io_read_bytes: o.io === null ? null : o.io * (i + 1),
          io_write_bytes: o.io === null ? null : Math.floor(o.io / 2) * (i + 1),
          fds: o.io === null ? null : 12,
        }));
      });
      snapshots.push(snap(t, list));
    }
    return { snapshots, criticalPids: critical.map((_, j) => 100 + j) };
  });

function points(resources: ResourceSeries[], metric: string, kinds: Array<ResourceSeries['kind']>): number {
  let total = 0;
  for (const r of resources) if (kinds.includes(r.kind)) for (const m of r.metrics) if (m.name === metric) for (const p of m.points) total += p.value;
  return total;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= Math.max(1e-6, 0.001 * Math.abs(b));

describe('pipeline invariants (property)', () => {
  it('every profile: totals preserved, every process in exactly one place, critical always kept, rollup counters monotonic', () => {
    fc.assert(
      fc.property(hostArb, ({ snapshots, criticalPids }) => {
        for (const profile of PROFILES) {
          const pipeline = new Pipeline(config, profile);
          let state: PipelineState = emptyState();
          let prev: Snapshot | null = null;
          const cumulative = new Map<string, number>();
          for (const s of snapshots) {
            const { batch, kpis, state: next } = pipeline.run(s, state);
            state = next;
            const res = batch.resources;
            const d = inputDeltas(prev, s);
            assert.equal(points(res, 'process.memory.usage', ['process', 'rollup']), d.rss, `${profile}: memory total`);
            assert.ok(close(points(res, 'process.cpu.time', ['process', 'rollup']), d.cpu), `${profile}: cpu deltas`);
            if (profile !== 'emergency') assert.ok(close(points(res, 'process.disk.io', ['process', 'rollup']), d.io), `${profile}: io deltas`);
            const individual = res.filter((r) => r.kind === 'process').map((r) => r.attributes['process.pid']);
            assert.equal(new Set(individual).size, individual.length, 'one resource per kept process');
            assert.equal(individual.length + points(res, 'process.count', ['rollup']), s.processes.length, `${profile}: each process in one place`);
            for (const pid of criticalPids) assert.ok(individual.includes(pid), `${profile}: critical pid ${pid} kept`);
            if (criticalPids.length > 0) assert.equal(kpis.coverage_critical, 1);
            for (const r of res.filter((x) => x.kind === 'rollup')) {
              const cpu = r.metrics.find((m) => m.name === 'process.cpu.time');
              for (const p of cpu?.points ?? []) {
                const key = `${r.attributes['nrdot.tier']}/${r.attributes['process.executable.name']}/${p.attributes!.state}`;
                assert.ok(p.cumulative! >= (cumulative.get(key) ?? 0), `${profile}: ${key} never goes backwards`);
                cumulative.set(key, p.cumulative!);
              }
            }
            for (const r of res) for (const v of Object.values(r.attributes)) if (typeof v === 'string') assert.ok(!v.includes('s3cret'), 'redacted');
            prev = s;
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic: the same input gives byte-identical output', () => {
    fc.assert(
      fc.property(hostArb, ({ snapshots }) => {
        const runOnce = (): string => {
          const p = new Pipeline(config, 'balanced');
          let state = emptyState();
          const out: string[] = [];
          for (const s of snapshots) {
            const r = p.run(s, state);
            state = r.state;
            out.push(JSON.stringify([r.batch, r.decisions, r.kpis]));
          }
          return out.join('\n');
        };
        assert.equal(runOnce(), runOnce());
      }),
      { numRuns: 20 },
    );
  });

  it('a profile set on a pipeline\'s runs gives each profile the KPIs of a pipeline of it alone, whichever it skips', () => {
    fc.assert(
      fc.property(hostArb, fc.array(fc.option(fc.constantFrom(...PROFILES), { freq: 2 }), { minLength: 6, maxLength: 6 }), ({ snapshots }, skips) => {
        const alone = PROFILES.map((profile) => {
          const p = new Pipeline(config, profile);
          let state = emptyState();
          return snapshots.map((s) => {
            const r = p.run(s, state, { decisions: false });
            state = r.state;
            return r.kpis;
          });
        });
        const real = new Pipeline(config, 'balanced');
        let state = emptyState();
        const set = new ProfileSet(config, PROFILES);
        snapshots.forEach((s, i) => {
          const r = real.run(s, state, { decisions: true });
          state = r.state;
          const skip = skips[i] ?? undefined;
          // A skipped profile starts afresh; the others must not notice.
          const got = new Map<string, Kpis>(set.run(real, { skip }).map((k) => [k.profile, k]));
          assert.deepEqual(r.kpis, alone[PROFILES.indexOf('balanced')]![i], 'the pipeline\'s own results are its own');
          PROFILES.forEach((profile, j) => {
            if (profile === skip || snapshots.slice(0, i).some((_, h) => skips[h] === profile)) return;
            assert.deepEqual(got.get(profile), alone[j]![i], `${profile}, interval ${i}`);
          });
        });
      }),
      { numRuns: 40 },
    );
  });
});

describe('classification', () => {
  const c = new Classifier(config);
  const tier = (over: Partial<ProcessSample>): string => c.classify(proc(10, over)).tier;
  it('tells a PostgreSQL server from its client sessions', () => {
    assert.equal(tier({ name: 'postgres', cmdline: '/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main' }), 'database');
    assert.equal(tier({ name: 'postgres', cmdline: 'postgres: 15/main: walwriter' }), 'database');
    assert.equal(tier({ name: 'postgres', cmdline: 'postgres: 15/main: app shop 10.1.2.3(5432) idle' }), 'db_session');
    assert.equal(tier({ name: 'postgres', cmdline: 'postgres: app shop [local] idle in transaction' }), 'db_session');
    assert.equal(tier({ name: 'postgres', cmdline: 'postgres: 15/main: walsender replicator 10.0.0.12(43210) streaming 0/3000000' }), 'database');
  });
  it('recognises kernel threads by structure, not name', () => {
    assert.equal(tier({ name: 'kworker/0:1', ppid: 2, exe: '', cmdline: '' }), 'noise');
    assert.equal(tier({ name: 'kworker/0:1', ppid: 1, exe: '/opt/kworker', cmdline: '/opt/kworker' }), 'default');
  });
  it('keeps the system manager critical but not the managers of user sessions', () => {
    assert.equal(tier({ name: 'systemd', cmdline: '/sbin/init splash' }), 'critical_system');
    assert.equal(tier({ name: 'systemd', cmdline: '/lib/systemd/systemd --user', user: 'alice' }), 'default');
  });

  it('keeps the sshd listener critical but not every session', () => {
    assert.equal(tier({ name: 'sshd', cmdline: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups' }), 'critical_system');
    assert.equal(tier({ name: 'sshd', cmdline: 'sshd: alice [priv]' }), 'default');
    assert.equal(tier({ name: 'sshd', cmdline: 'sshd: alice@pts/0' }), 'default');
  });
  it('places beam.smp with rabbit and java with kafka before the generic application rule', () => {
    assert.equal(tier({ name: 'beam.smp', cmdline: '/usr/lib/erlang/erts/bin/beam.smp -- -root /usr/lib/erlang -s rabbit boot' }), 'message_queue');
    assert.equal(tier({ name: 'java', cmdline: 'java -cp /opt/kafka/libs/* kafka.Kafka server.properties' }), 'message_queue');
    assert.equal(tier({ name: 'java', cmdline: 'java -jar orders.jar' }), 'application');
  });
  it('gives unmatched processes the default tier', () => {
    const r = c.classify(proc(10, { name: 'mystery', exe: '/opt/mystery', cmdline: 'mystery' }));
    assert.deepEqual([r.tier, r.importance, r.critical], ['default', 0.3, false]);
  });
});

describe('command-line bound', () => {
  it('cuts a recording\'s command line to the bound before classifying and redacting it: whole arguments, then the mark', () => {
    const forced = structuredClone(config);
    forced.force_collect = [{ name: '^java$' }];
    const p = new Pipeline(forced, 'balanced');
    const args = `java -jar app.jar ${'x'.repeat(5000)} --db-password=s3cret`;
    const r = p.run(snap(HOST.boot_time + 3600, [proc(10, { name: 'java', exe: '/usr/bin/java', cmdline: args })]), emptyState());
    const kept = r.batch.resources.find((x) => x.attributes['process.pid'] === 10);
    assert.equal(kept?.attributes['process.command_line'], `java -jar app.jar ${CUT_MARK}`);
    assert.equal(boundCmdline(args), `java -jar app.jar ${CUT_MARK}`);
    const one = 'y'.repeat(MAX_CMDLINE + 10); // one argument longer than the bound is kept cut
    assert.equal(boundCmdline(one), `${'y'.repeat(MAX_CMDLINE - 2)} ${CUT_MARK}`);
    assert.equal(boundCmdline('z'.repeat(MAX_CMDLINE)), 'z'.repeat(MAX_CMDLINE));
  });
});

describe('continuity', () => {
  const cpuOut = (res: ResourceSeries[]): number => points(res, 'process.cpu.time', ['process', 'rollup']);

  it('counts the usage of a process missing from one snapshot when it is seen again', () => {
    const p = new Pipeline(config, 'balanced');
    let state = emptyState();
    const t0 = HOST.boot_time + 3600;
    let total = 0;
    for (const [i, cpu] of [[0, 10], [1, 20], [3, 40], [4, 50]] as const) {
      const r = p.run(snap(t0 + i * 60, [proc(5, { name: 'mystery', exe: '/opt/m', cmdline: 'm', cpu_user_seconds: cpu, cpu_system_seconds: 0 })]), state);
      state = r.state;
      total += cpuOut(r.batch.resources);
    }
    assert.equal(total, 40, 'from the first sighting (10 s) to the last (50 s)');
  });

  it('starts the cumulative values of a new rollup group at the start of the interval it covers', () => {
    const p = new Pipeline(config, 'balanced');
    const t0 = HOST.boot_time + 3600;
    const first = p.run(snap(t0, [proc(1, CRITICAL_TEMPLATES[0])]), emptyState());
    const cc1 = (pid: number) => proc(pid, { name: 'cc1', exe: '/usr/lib/gcc/cc1', cmdline: 'cc1 x.c', start_time: t0 + 10, cpu_user_seconds: 20, cpu_system_seconds: 0 });
    const r = p.run(snap(t0 + 60, [proc(1, CRITICAL_TEMPLATES[0]), cc1(900), cc1(901)]), first.state);
    const rollup = r.batch.resources.find((x) => x.kind === 'rollup' && x.attributes['process.executable.name'] !== undefined && x.metrics.some((m) => m.name === 'process.count' && m.points[0]!.value === 2))!;
    const cpu = rollup.metrics.find((m) => m.name === 'process.cpu.time')!;
    assert.equal(cpu.points[0]!.start, t0);
    assert.equal(cpu.points[0]!.cumulative, 40);
  });
});

describe('selection', () => {
  it('samples the tail deterministically, with its weight and without command lines', () => {
    const p = new Pipeline(config, 'sampled');
    const t = HOST.boot_time + 3600;
    const list = Array.from({ length: 20 }, (_, i) => proc(500 + i, { name: 'mystery', exe: '/opt/mystery', cmdline: 'mystery --token abc' }));
    const r = p.run(snap(t, list), emptyState());
    const sampled = r.batch.resources.filter((x) => x.kind === 'process' && 'nrdot.sample.weight' in x.attributes);
    assert.equal(sampled.length, 3);
    for (const x of sampled) {
      assert.equal(x.attributes['nrdot.sample.weight'], Math.round(20 / 3));
      assert.ok(!('process.command_line' in x.attributes) && !('process.executable.path' in x.attributes));
    }
    assert.equal(r.decisions.filter((d) => d.action === 'sample').length, 3);
    const again = new Pipeline(config, 'sampled').run(snap(t, list), emptyState());
    assert.deepEqual(again.decisions.filter((d) => d.action === 'sample').map((d) => d.pid), r.decisions.filter((d) => d.action === 'sample').map((d) => d.pid));
  });

  it('top-K: an incumbent keeps its place unless beaten by 25%', () => {
    const inc = { composite: 0.1, incumbent: true, id: 'inc' };
    assert.deepEqual(chooseTopK([inc, { composite: 0.12, incumbent: false, id: 'a' }], 1).map((c) => c.id), ['inc']);
    assert.deepEqual(chooseTopK([inc, { composite: 0.13, incumbent: false, id: 'b' }], 1).map((c) => c.id), ['b']);
    assert.equal(chooseTopK([inc, { composite: 0.5, incumbent: false, id: 'c' }, { composite: 0.4, incumbent: false, id: 'd' }], 2).length, 2);
  });

  it('says a process the series cap refused was refused by the cap, not too idle', () => {
    const tight = structuredClone(config);
    tight.profiles.balanced!.limits.max_series_per_host = 10;
    const p = new Pipeline(tight, 'balanced');
    const t = HOST.boot_time + 3600;
    const java = { name: 'java', exe: '/usr/bin/java', cmdline: 'java -jar app.jar', user: 'app' };
    // pid 10 at 50% of a core (over the 10% threshold), pid 11 at 2% (a top-K candidate of application).
    const at = (i: number) => [proc(10, { ...java, cpu_user_seconds: 1 + i * 30 }), proc(11, { ...java, cpu_user_seconds: 1 + i * 1.2 })];
    const r = p.run(snap(t + 60, at(1)), p.run(snap(t, at(0)), emptyState()).state);
    const busy = r.decisions.find((d) => d.pid === 10)!;
    assert.equal(busy.action, 'rollup');
    assert.match(busy.reason, /\(threshold:cpu over the series cap\)$/);
    assert.equal(busy.missed!.top_k, null);
    assert.match(describeMissed(busy, busy.missed!), /^CPU 50\.0% >= 10%, .*; composite [\d.]+%, series cap reached$/);
    assert.equal(busy.missed!.why, 'series cap reached');
    // Chosen by the top-K, then refused by the cap: its rank is within the K, and the cap says why.
    const chosen = r.decisions.find((d) => d.pid === 11)!;
    assert.match(chosen.reason, /\(top-k over the series cap\)$/);
    assert.match(describeMissed(chosen, chosen.missed!), /, rank 1 of 1 in application, top-5; series cap reached$/);
  });

  it('says a challenger ranked within the top-K was held out by an incumbent', () => {
    const p = new Pipeline(config, 'balanced');
    const t = HOST.boot_time + 3600;
    // Six application processes; percent of a core per interval: five incumbents, then a challenger.
    const rates = [[5, 4, 3, 2.5, 2, 1], [5, 4, 3, 2.5, 2, 1], [5, 4, 3, 2.5, 2, 2.2]];
    const cpu = [1, 1, 1, 1, 1, 1];
    let state = emptyState();
    let r!: ReturnType<Pipeline['run']>;
    rates.forEach((row, i) => {
      row.forEach((pct, j) => (cpu[j]! += (pct / 100) * 60));
      const list = cpu.map((c, j) => proc(20 + j, { name: 'java', exe: '/usr/bin/java', cmdline: `java -jar app${j}.jar`, user: 'app', cpu_user_seconds: c }));
      r = p.run(snap(t + (i + 1) * 60, list), state);
      state = r.state;
    });
    assert.deepEqual(r.decisions.filter((d) => d.reason === 'top-k').map((d) => d.pid), [20, 21, 22, 23, 24]);
    const challenger = r.decisions.find((d) => d.pid === 25)!;
    assert.equal(challenger.action, 'rollup');
    assert.deepEqual(challenger.missed!.top_k, { tier: 'application', rank: 5, candidates: 6, k: 5 });
    assert.match(describeMissed(challenger, challenger.missed!), /, rank 5 of 6 in application, top-5; an incumbent kept its place \(a challenger needs \+25%\)$/);
    assert.equal(challenger.missed!.dropped, 'incumbent');
  });

  it('keeps a process younger than one interval only if critical or anomalous', () => {
    const t = HOST.boot_time + 3600;
    const p = new Pipeline(config, 'balanced');
    const first = p.run(snap(t, [proc(1, CRITICAL_TEMPLATES[0])]), emptyState());
    const busy = proc(50, { name: 'python3', exe: '/usr/bin/python3', cmdline: 'python3 batch.py', start_time: t + 30, cpu_user_seconds: 29, cpu_system_seconds: 0 });
    const second = p.run(snap(t + 60, [proc(1, CRITICAL_TEMPLATES[0]), busy]), first.state);
    const d = second.decisions.find((x) => x.pid === 50)!;
    assert.equal(d.action, 'rollup');
    assert.ok(d.cpuPercent > 90, 'its rate comes from its own start time');
    const third = p.run(snap(t + 120, [proc(1, CRITICAL_TEMPLATES[0]), { ...busy, cpu_user_seconds: 89 }]), second.state);
    assert.equal(third.decisions.find((x) => x.pid === 50)!.reason, 'threshold:cpu');
  });

  it('never cuts critical processes to honour the series cap, and says when they exceed it', () => {
    const tight = structuredClone(config);
    tight.profiles.balanced!.limits.max_series_per_host = 10;
    const p = new Pipeline(tight, 'balanced');
    const list = Array.from({ length: 5 }, (_, i) => proc(10 + i, { ...CRITICAL_TEMPLATES[0]!, name: 'systemd' }));
    const r = p.run(snap(HOST.boot_time + 3600, list), emptyState());
    assert.equal(r.batch.resources.filter((x) => x.kind === 'process').length, 5);
    assert.equal(r.kpis.critical_over_cap, true);
  });

  it('detects a lasting anomaly one interval after it starts, keeps it for the retention window, and ignores a single burst', () => {
    const run = (cpuAt: (i: number) => number): string[] => {
      const p = new Pipeline(config, 'balanced');
      let state = emptyState();
      let cpu = 0;
      const reasons: string[] = [];
      for (let i = 0; i < 14; i++) {
        cpu += (cpuAt(i) / 100) * 60;
        const proc7 = proc(7, { name: 'memcached', exe: '/usr/bin/memcached', cmdline: 'memcached -m 64', cpu_user_seconds: cpu, cpu_system_seconds: 0 });
        const r = p.run(snap(HOST.boot_time + 3600 + i * 60, [proc7]), state);
        state = r.state;
        reasons.push(r.decisions[0]!.reason);
      }
      return reasons;
    };
    // 1% of a core, then about 8% from interval 8 on (below the 10% threshold).
    const shift = run((i) => (i >= 8 ? 8 : 1));
    assert.notEqual(shift[8], 'anomaly', 'the first interval is held for confirmation');
    assert.deepEqual(shift.slice(9), ['anomaly', 'anomaly', 'anomaly', 'anomaly', 'anomaly'], 'confirmed, then kept within 15 min');
    // One interval at 8%, then back to 1%: a burst, not an anomaly.
    const burst = run((i) => (i === 8 ? 8 : 1));
    assert.ok(!burst.includes('anomaly'), burst.join(', '));
  });
});
