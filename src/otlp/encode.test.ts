import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultConfig } from '../config/index.js';
import { emptyState, Pipeline } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';
import { Baseline, baselineResource, SCRAPER } from '../pipeline/baseline.js';
import { hostAttributes } from '../pipeline/series.js';
import { encodeProtobuf, toOtlpJson } from './encode.js';
import { requestSize } from './size.js';

const HOST = { id: 'host-ü-1', name: 'web-01', cpus: 4, memory_bytes: 2 ** 34, boot_time: 1_700_000_000 };

const processArb = fc.record({
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  name: fc.string({ maxLength: 15 }),
  exe: fc.oneof(fc.constant(''), fc.string({ maxLength: 80 }).map((s) => `/usr/bin/${s}`)),
  cmdline: fc.oneof(fc.constant(''), fc.string({ maxLength: 300 }), fc.string({ minLength: 4000, maxLength: 5000 })),
  user: fc.oneof(fc.constant('root'), fc.string({ maxLength: 12 })),
  cpu: fc.double({ min: 0, max: 1e6, noNaN: true }),
  rss: fc.nat(),
  io: fc.option(fc.nat(), { freq: 3 }),
});

type Proc = typeof processArb extends fc.Arbitrary<infer T> ? T : never;

function snapshotOf(ps: Proc[], t: number): Snapshot {
  const seen = new Set<number>();
  return {
    schema: 'nrdot.snapshot/v1',
    host: HOST,
    timestamp: t,
    processes: ps
      .filter((p) => !seen.has(p.pid) && seen.add(p.pid))
      .map((p) => ({
        pid: p.pid, ppid: 1, name: p.name, exe: p.exe, cmdline: p.cmdline, user: p.user, state: 'S', start_time: HOST.boot_time + 5,
        cpu_user_seconds: p.cpu, cpu_system_seconds: p.cpu / 3, rss_bytes: p.rss, vms_bytes: p.rss * 3, threads: 3, fds: 7,
        io_read_bytes: p.io, io_write_bytes: p.io, minor_faults: 1, major_faults: 0, ctx_voluntary: 1, ctx_involuntary: 0,
      })),
  };
}

describe('OTLP encoding', () => {
  it('the arithmetic byte count equals the real protobuf encoding, for every profile (property)', () => {
    const config = defaultConfig();
    fc.assert(
      fc.property(fc.array(processArb, { maxLength: 40 }), fc.constantFrom(...Object.keys(config.profiles)), (ps, profile) => {
        const p = new Pipeline(config, profile);
        const first = p.run(snapshotOf(ps, HOST.boot_time + 1000), emptyState());
        const second = p.run(snapshotOf(ps, HOST.boot_time + 1060.5), first.state);
        for (const temporality of ['delta', 'cumulative'] as const) {
          const encoded = encodeProtobuf(second.batch.resources, second.batch, temporality);
          assert.equal(requestSize(second.batch.resources), encoded.length);
        }
        assert.equal(second.kpis.bytes_exported, encodeProtobuf(second.batch.resources, second.batch, 'delta').length);
      }),
      { numRuns: 100 },
    );
  });

  it('the baseline counts exactly the bytes of the stock scraper\'s resources, built for real (property)', () => {
    fc.assert(
      fc.property(fc.array(processArb, { minLength: 1, maxLength: 20 }), (ps) => {
        const snapshot = snapshotOf(ps, HOST.boot_time + 1000);
        const host = hostAttributes(snapshot.host);
        const baseline = new Baseline(host);
        const batch = { timestamp: snapshot.timestamp, intervalStart: null, resources: [] };
        for (const p of snapshot.processes) {
          const encoded = encodeProtobuf([baselineResource(host, p)], batch, 'cumulative', SCRAPER);
          assert.equal(encoded.length, baseline.measure(p).bytes);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('writes OTLP JSON as the Collector file exporter does, rollups and self-metrics included', () => {
    const config = defaultConfig();
    const p = new Pipeline(config, 'aggressive');
    const procs = [
      { pid: 1, name: 'systemd', exe: '/usr/lib/systemd/systemd', cmdline: '/sbin/init', user: 'root', cpu: 10, rss: 8e6, io: 100 },
      { pid: 200, name: 'php-fpm8.2', exe: '/usr/sbin/php-fpm8.2', cmdline: 'php-fpm: pool www', user: 'www-data', cpu: 1, rss: 4e7, io: 5 },
    ];
    const first = p.run(snapshotOf(procs, 1_764_115_200), emptyState());
    const second = p.run(snapshotOf(procs.map((x) => ({ ...x, cpu: x.cpu + 1 })), 1_764_115_260.25), first.state);
    const json = toOtlpJson(second.batch.resources, second.batch, 'delta') as { resourceMetrics: Array<Record<string, any>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const attrs = (rm: Record<string, any>) => Object.fromEntries(rm.resource.attributes.map((a: any) => [a.key, Object.values(a.value)[0]])); // eslint-disable-line @typescript-eslint/no-explicit-any
    const rollup = json.resourceMetrics.find((rm) => attrs(rm)['nrdot.rollup'] === true)!;
    assert.equal(attrs(rollup)['nrdot.tier'], 'application');
    const self = json.resourceMetrics.find((rm) => attrs(rm)['service.name'] === 'nrdot-plus')!;
    const names = self.scopeMetrics[0].metrics.map((m: { name: string }) => m.name);
    assert.ok(names.includes('nrdot.profile.active'));
    const active = self.scopeMetrics[0].metrics.find((m: { name: string }) => m.name === 'nrdot.profile.active');
    assert.deepEqual(active.gauge.dataPoints[0].attributes, [{ key: 'nrdot.profile', value: { stringValue: 'aggressive' } }]);
    const systemd = json.resourceMetrics.find((rm) => attrs(rm)['process.pid'] === 1)!;
    assert.ok(!('nrdot.profile' in attrs(systemd)), 'the profile is never a process resource attribute');
    const cpu = systemd.scopeMetrics[0].metrics.find((m: { name: string }) => m.name === 'process.cpu.time');
    assert.equal(cpu.sum.aggregationTemporality, 1, 'delta');
    assert.equal(cpu.sum.isMonotonic, true);
    assert.equal(cpu.sum.dataPoints[0].timeUnixNano, '1764115260250000000');
    assert.equal(cpu.sum.dataPoints[0].startTimeUnixNano, '1764115200000000000');
    assert.equal(typeof cpu.sum.dataPoints[0].asDouble, 'number');
  });
});
