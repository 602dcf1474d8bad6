/**
 * The agent exporting OTLP/HTTP to a real loopback receiver that decodes every request with the
 * official OTLP definitions: what arrives, the api-key, outages, restarts after kill -9, answers that
 * are retried, split or refused for good, and the license key kept out of logs and /metrics.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV } from './agent-process.js';
import { attrs, OtlpReceiver, TEMPORALITY, type DecodedResource } from './otlp-receiver.js';
import { AGENT, freePort, logLines, run } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-otlp-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh data directory and a config with fast retries and no splay (tests only). */
function setup(extra = ''): { dataDir: string; config: string } {
  const dataDir = join(root, `d${++n}`);
  const config = join(root, `c${n}.yaml`);
  writeFileSync(
    config,
    `exporters:\n  otlp:\n    splay: 0\n    max_requests_per_second: 50\n    retry: { initial_interval: 100ms, max_interval: 400ms }\n${extra}`,
  );
  return { dataDir, config };
}

const PROMTOOL = '/usr/bin/promtool';
const LICENSE_KEY = '0123456789abcdef0123456789abcdef0123NRAL';
const agents: AgentProcess[] = [];
const receivers: OtlpReceiver[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill9()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

function startAgent(args: string[], env: Record<string, string>): AgentProcess {
  const a = AgentProcess.start(args, env);
  agents.push(a);
  return a;
}
async function receiver(options: Parameters<typeof OtlpReceiver.start>[0] = {}): Promise<OtlpReceiver> {
  const r = await OtlpReceiver.start(options);
  receivers.push(r);
  return r;
}

const selfOf = (resources: DecodedResource[]): DecodedResource[] => resources.filter((r) => attrs(r.resource.attributes)['service.name'] === 'nrdot-plus');
const metricsOf = (r: DecodedResource) => r.scopeMetrics.flatMap((s) => s.metrics);
/** The interval (datapoint time, ns) each self-metrics resource reports. */
const intervalOf = (self: DecodedResource): string => metricsOf(self).find((m) => m.name === 'nrdot.process.series.kept')!.gauge!.dataPoints[0]!.timeUnixNano;
/** Intervals delivered, with how many times each arrived. */
function delivered(r: OtlpReceiver): Map<string, number> {
  const seen = new Map<string, number>();
  for (const self of selfOf(r.accepted())) seen.set(intervalOf(self), (seen.get(intervalOf(self)) ?? 0) + 1);
  return seen;
}
/** A Prometheus sample's value from the exposition. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} is served`);
  return Number(m[1]);
}

describe('OTLP/HTTP export', () => {
  it('sends each interval as gzip protobuf with the api-key, in OpenTelemetry names, delta, under 1 MB, and never shows the key', async () => {
    const r = await receiver();
    const { dataDir, config } = setup();
    const agent = startAgent(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url, NEW_RELIC_LICENSE_KEY: LICENSE_KEY });
    await r.until(() => delivered(r).size >= 3, 20_000, 'three intervals');
    const metrics = await agent.metrics();
    assert.equal(await agent.stop(), 0);

    for (const req of r.requests) {
      assert.equal(req.headers['api-key'], LICENSE_KEY);
      assert.equal(req.headers['content-type'], 'application/x-protobuf');
      assert.equal(req.headers['content-encoding'], 'gzip');
      assert.match(String(req.headers['user-agent']), /^nrdot-plus\//);
      assert.ok(req.wireBytes < 1e6 && req.wireBytes < req.protobufBytes);
    }
    const resources = r.accepted();
    const processes = resources.filter((res) => 'process.pid' in attrs(res.resource.attributes));
    assert.ok(processes.length > 0);
    const me = processes.find((res) => attrs(res.resource.attributes)['process.pid'] === agent.child.pid);
    for (const res of processes) {
      const a = attrs(res.resource.attributes);
      assert.ok(a['host.id'] && a['host.name'] && a['process.executable.name'] !== undefined && a['nrdot.tier']);
      assert.ok(!('nrdot.profile' in a), 'the profile is never a process resource attribute');
    }
    const all = resources.flatMap(metricsOf);
    const cpu = all.find((m) => m.name === 'process.cpu.time')!;
    assert.equal(cpu.unit, 's');
    assert.equal(cpu.sum!.aggregationTemporality, TEMPORALITY.DELTA);
    assert.equal(cpu.sum!.isMonotonic, true);
    assert.deepEqual(new Set(cpu.sum!.dataPoints.map((p) => attrs(p.attributes).state)), new Set(['user', 'system']));
    assert.equal(all.find((m) => m.name === 'process.memory.usage')!.unit, 'By');
    assert.ok(me === undefined || metricsOf(me).some((m) => m.name === 'process.memory.usage'));
    // The self-metrics go out with every batch, the delivery counters among them.
    const selves = selfOf(resources);
    assert.equal(selves.length, delivered(r).size);
    const names = new Set(selves.flatMap(metricsOf).map((m) => m.name));
    for (const name of ['nrdot.process.series.kept', 'nrdot.profile.active', 'nrdot.export.queue.batches', 'nrdot.export.batches.delivered', 'nrdot.export.batches.failed']) {
      assert.ok(names.has(name), name);
    }
    assert.ok(sample(metrics, 'nrdot_export_batches_delivered_total') >= 1);
    assert.equal(sample(metrics, 'nrdot_export_batches_failed_total'), 0);
    assert.match(metrics, /^# TYPE nrdot_export_queue_batches gauge$/m);
    assert.match(metrics, /^# TYPE nrdot_export_batches_dropped_total counter$/m);
    if (existsSync(PROMTOOL)) {
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
    }
    // The key: in the header, nowhere else.
    assert.ok(!agent.stderr.includes(LICENSE_KEY), 'not in the log');
    assert.ok(!metrics.includes(LICENSE_KEY), 'not in /metrics');
    const start = agent.lines.find((l) => 'otlp_headers' in l)!;
    assert.equal(start.otlp_endpoint, `${r.url}/v1/metrics`);
    assert.deepEqual(start.otlp_headers, ['api-key']);
  });

  it('says once that OTLP export is off when nothing is configured, and writes no queue', async () => {
    const { dataDir } = setup();
    const p = await run(AGENT, ['--once'], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dataDir, NRDOT_CONFIG: '', NEW_RELIC_LICENSE_KEY: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' } });
    assert.equal(p.code, 0);
    assert.equal(logLines(p.stderr).filter((l) => /OTLP export is off/.test(String(l.msg))).length, 1);
    assert.throws(() => readdirSync(join(dataDir, 'queue')), /ENOENT/);
  });

  it('sends cumulative counters on request, monotonic from their start', async () => {
    const r = await receiver();
    const { dataDir, config } = setup();
    startAgent(['--interval', '1', '--config', config], {
      NRDOT_DATA_DIR: dataDir,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${r.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'cumulative',
    });
    await r.until(() => delivered(r).size >= 2, 15_000, 'two intervals');
    const [first, second] = r.requests.map((q) => q.resourceMetrics);
    const cpu = (resources: DecodedResource[]): Map<string, { start: bigint; time: bigint; value: number }> => {
      const out = new Map<string, { start: bigint; time: bigint; value: number }>();
      for (const res of resources) {
        for (const m of metricsOf(res).filter((x) => x.name === 'process.cpu.time')) {
          assert.equal(m.sum!.aggregationTemporality, TEMPORALITY.CUMULATIVE);
          for (const p of m.sum!.dataPoints) {
            const key = JSON.stringify([res.resource.attributes, p.attributes]);
            out.set(key, { start: BigInt(p.startTimeUnixNano), time: BigInt(p.timeUnixNano), value: p.asDouble ?? Number(p.asInt) });
          }
        }
      }
      return out;
    };
    const before = cpu(first!);
    const now = cpu(second!);
    assert.ok(now.size > 0);
    let compared = 0;
    for (const [key, p] of now) {
      assert.ok(p.start < p.time, 'a cumulative point counts from before its own time');
      const earlier = before.get(key);
      if (earlier && earlier.start === p.start) {
        compared++;
        assert.ok(p.value >= earlier.value, 'a cumulative counter never goes backwards');
      }
    }
    assert.ok(compared > 0, 'series continue from one interval to the next');
  });

  it('loses no interval while the backend is down, and sends each once when it is back', async () => {
    const port = await freePort();
    const { dataDir, config } = setup();
    const agent = startAgent(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    await agent.waitForLog((l) => /OTLP export to .* failed: .*ECONNREFUSED/.test(String(l.msg)), 15_000, 'the outage to be noticed');
    await agent.waitForLog(() => agent.intervals() >= 4, 15_000, 'four intervals during the outage');
    const during = await agent.metrics();
    assert.ok(sample(during, 'nrdot_export_queue_batches') >= 2, 'batches wait in the queue');
    assert.ok(sample(during, 'nrdot_export_retries_total') >= 1);
    const missed = agent.intervals();
    const r = await receiver({ port });
    await r.until(() => delivered(r).size >= missed + 1, 30_000, 'the backlog and a new interval');
    await agent.waitForLog((l) => /delivering again/.test(String(l.msg)), 5_000, 'the recovery to be logged');
    const seen = delivered(r);
    assert.ok([...seen.values()].every((times) => times === 1), 'every interval arrived once');
    const times = [...seen.keys()].map((t) => Number(BigInt(t) / 1_000_000n)).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! < 1_500, `no interval is missing between ${times[i - 1]} and ${times[i]}`);
    assert.equal(agent.lines.filter((l) => /failed: .*ECONNREFUSED/.test(String(l.msg))).length, 1, 'the outage is logged once');
  });

  it('keeps queued intervals across kill -9 and sends them after the restart', async () => {
    const port = await freePort();
    const { dataDir, config } = setup();
    const env = { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` };
    const first = startAgent(['--interval', '1', '--config', config], env);
    await first.waitForLog(() => first.intervals() >= 3, 15_000, 'three intervals');
    const rival = await run(AGENT, ['--once', '--config', config], { env: { ...process.env, ...NO_PROXY_ENV, ...env } });
    assert.equal(rival.code, 1, 'a second agent on the same data directory is refused');
    assert.match(rival.stderr, new RegExp(`another nrdot-plus \\(pid ${first.child.pid}\\) is running with the data directory`));
    await first.kill9();
    const queued = readdirSync(join(dataDir, 'queue')).filter((f) => f.endsWith('.batch')).length;
    assert.ok(queued >= 3, `${queued} batches on disk`);
    const killedAt = BigInt(Date.now()) * 1_000_000n;
    const r = await receiver({ port });
    const second = startAgent(['--interval', '1', '--config', config], env);
    await second.waitForLog((l) => l.queued_batches === queued, 10_000, 'the restarted agent to find the queue');
    const before = (): string[] => [...delivered(r).keys()].filter((t) => BigInt(t) < killedAt);
    await r.until(() => before().length >= first.intervals(), 20_000, 'the intervals of the killed agent');
    assert.equal(before().length, first.intervals());
    assert.ok([...delivered(r).values()].every((times) => times === 1));
  });

  it('drops the oldest batches beyond the queue bound and counts them', async () => {
    const port = await freePort();
    const { dataDir, config } = setup('    queue_max_mb: 0.00001\n');
    const agent = startAgent(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    await agent.waitForLog(() => agent.intervals() >= 3, 15_000, 'three intervals');
    const metrics = await agent.metrics();
    assert.ok(sample(metrics, 'nrdot_export_batches_dropped_total') >= 2);
    assert.equal(sample(metrics, 'nrdot_export_queue_batches'), 0);
  });

  it('honours Retry-After on 429 and resends the same batch', async () => {
    const r = await receiver();
    r.respond = (i) => (i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 });
    const { dataDir, config } = setup();
    startAgent(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
    await r.until(() => r.requests.length >= 2, 15_000, 'the retry');
    const [refused, retried] = r.requests;
    assert.equal(intervalOf(selfOf(retried!.resourceMetrics)[0]!), intervalOf(selfOf(refused!.resourceMetrics)[0]!));
    assert.ok(retried!.at - refused!.at >= 1_900, `retried after ${Math.round(retried!.at - refused!.at)} ms`);
  });

  it('splits a batch the backend finds too large (413) until it fits, losing no resource', async () => {
    const r = await receiver();
    r.respond = (_i, req) => (req.resourceMetrics.length > 1 ? { status: 413 } : { status: 200 });
    const { dataDir, config } = setup(`  file: { path: ${JSON.stringify(join(root, 'split.jsonl'))} }\n`);
    const p = await run(AGENT, ['--once', '--config', config], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url } });
    assert.equal(p.code, 0, p.stderr);
    const written = JSON.parse(readFileSync(join(root, 'split.jsonl'), 'utf8')) as { resourceMetrics: unknown[] };
    assert.ok(written.resourceMetrics.length >= 3);
    assert.equal(r.accepted().length, written.resourceMetrics.length);
    assert.equal(r.requests.filter((q) => q.status === 200).length, written.resourceMetrics.length, 'cut down to one resource per request');
    assert.ok(r.requests.some((q) => q.status === 413));
  });

  it('gives up on a permanent refusal (403): logged once without the key, counted, not retried', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 403, body: `invalid api-key ${LICENSE_KEY}` });
    const { dataDir, config } = setup();
    const agent = startAgent(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url, NEW_RELIC_LICENSE_KEY: LICENSE_KEY });
    await r.until(() => r.requests.length >= 3, 15_000, 'three refused batches');
    const metrics = await agent.metrics();
    await agent.stop();
    const intervals = r.requests.map((q) => intervalOf(selfOf(q.resourceMetrics)[0]!));
    assert.equal(new Set(intervals).size, intervals.length, 'no batch was sent twice');
    const errors = agent.lines.filter((l) => /rejected by/.test(String(l.msg)));
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]!.msg), /403 \(invalid api-key \*\*\*\).*check the license key/);
    assert.ok(!agent.stderr.includes(LICENSE_KEY));
    assert.ok(sample(metrics, 'nrdot_export_batches_failed_total') >= 2);
  });

  it('logs a partial success once, with the rejected datapoints', async () => {
    const r = await receiver();
    r.respond = () => ({ status: 200, rejected: { count: 3, message: 'attribute too long' } });
    const { dataDir, config } = setup();
    const p = await run(AGENT, ['--once', '--config', config], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url } });
    assert.equal(p.code, 0, p.stderr);
    const warn = logLines(p.stderr).find((l) => /accepted a batch partially/.test(String(l.msg)));
    assert.equal(warn?.rejected_datapoints, 3);
    assert.match(String(warn?.msg), /attribute too long/);
  });
});
