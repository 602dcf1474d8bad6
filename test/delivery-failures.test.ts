/**
 * Delivery that must never stop for good, with the real agent: batch files or the whole queue removed
 * under it, a backend refusing every batch, and a full disk (real tmpfs mounts, root only) under the
 * file exporter or under the data directory. Each part fails on its own, says so once, shows it in
 * status and /metrics, loses nothing already stored, and resumes by itself. The agent reads a procfs
 * tree of its own: what it reads does not matter here, what becomes of each interval does, and the
 * intervals stay cheap and steady whatever else runs on the machine.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { buildProcfs } from './fakeproc.js';
import { attrs, OtlpReceiver, type DecodedResource } from './otlp-receiver.js';
import { AGENT, CTL, freePort, run } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-delivery-'));
const NAMES = ['nginx', 'postgres', 'java', 'python3', 'node', 'sshd', 'cron', 'bash'];
const procfs = buildProcfs({
  processes: Array.from({ length: 60 }, (_, i) => ({ pid: 100 + i, name: NAMES[i % NAMES.length]!, cmdline: [`/usr/bin/${NAMES[i % NAMES.length]!}`, `--worker=${i}`], utimeTicks: 100 * i, rssPages: 1000 + i })),
});
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(procfs, { recursive: true, force: true });
});
let n = 0;
/** A fresh data directory (unless given) and a config with fast retries and no splay (tests only). */
function setup(extra = '', dataDir = join(root, `d${++n}`)): { dataDir: string; config: string } {
  const config = join(root, `c${++n}.yaml`);
  writeFileSync(config, `exporters:\n  otlp:\n    splay: 0\n    max_requests_per_second: 50\n    retry: { initial_interval: 100ms, max_interval: 400ms }\n${extra}`);
  return { dataDir, config };
}

const LICENSE_KEY = '0123456789abcdef0123456789abcdef0123NRAL';
const agents: AgentProcess[] = [];
const receivers: OtlpReceiver[] = [];
const mounts: string[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.kill9()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  for (const dir of mounts.splice(0)) {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

function startAgent(config: string, env: Record<string, string>): AgentProcess {
  const a = AgentProcess.start(['--interval', '1', '--procfs', procfs, '--config', config], env);
  agents.push(a);
  return a;
}
async function receiver(options: Parameters<typeof OtlpReceiver.start>[0] = {}): Promise<OtlpReceiver> {
  const r = await OtlpReceiver.start(options);
  receivers.push(r);
  return r;
}

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs and fill it (CI runs as root)';

/** A tmpfs of `size` mounted on a new directory, unmounted after the test. */
function tmpfs(size: string): string {
  const dir = mkdtempSync(join(root, 'fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Fills the filesystem of `dir` with one file, leaving `leave` bytes free; returns the file's path. */
function fill(dir: string, leave = 0): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  let size = 0;
  try {
    for (const chunk of [Buffer.alloc(65536, 1), Buffer.alloc(4096, 1)]) {
      try {
        for (;;) size += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (leave > 0) truncateSync(path, size - leave);
  return path;
}

const selfOf = (resources: DecodedResource[]): DecodedResource[] => resources.filter((r) => attrs(r.resource.attributes)['service.name'] === 'nrdot-plus');
const metricsOf = (r: DecodedResource) => r.scopeMetrics.flatMap((s) => s.metrics);
/** The interval (datapoint time, ns) each self-metrics resource reports. */
const intervalOf = (self: DecodedResource): string => metricsOf(self).find((m) => m.name === 'nrdot.process.series.kept')!.gauge!.dataPoints[0]!.timeUnixNano;
/** Intervals delivered. */
const delivered = (r: OtlpReceiver): Set<string> => new Set(selfOf(r.accepted()).map(intervalOf));
/** A Prometheus sample's value from the exposition (labels as written, e.g. `{exporter="file"}`). */
function sample(text: string, name: string, labels = ''): number {
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name}${labels} is served`);
  return Number(m[1]);
}

interface Health {
  failing: boolean;
  failing_since: string | null;
  last_error: string | null;
  intervals_failed: number;
}
interface Status {
  intervals: number;
  export: {
    otlp: Health & { queue_batches: number; delivered: number; failed: number; dropped: number; lost: number };
    file: (Health & { path: string }) | null;
  };
  store: Health;
}

function ctl(dataDir: string, args: string[]): Promise<string> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dataDir, NO_COLOR: '1' } }).then((r) => {
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  });
}
const status = async (dataDir: string): Promise<Status> => JSON.parse(await ctl(dataDir, ['status', '--json'])) as Status;
/** `status` as text, its wrapped lines joined (the table wraps long values to the terminal's width). */
const statusText = async (dataDir: string): Promise<string> => (await ctl(dataDir, ['status'])).replace(/\s+/g, ' ');
async function api<T>(agent: AgentProcess, path: string): Promise<T> {
  const started = await agent.waitForLog((l) => typeof l.listen === 'string', 10_000, 'the listener');
  return (await fetch(`http://${String(started.listen)}${path}`)).json() as Promise<T>;
}

const msg = (l: LogLine): string => String(l.msg);
const batchFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'queue')).filter((f) => f.endsWith('.batch')).sort();
/** Waits for `count` more interval log lines. */
async function intervals(agent: AgentProcess, count: number, what: string): Promise<void> {
  const target = agent.intervals() + count;
  await agent.waitForLog(() => agent.intervals() >= target, 20_000 + count * 5_000, what);
}
/** No interval failed as a whole, and nothing was logged with a stack trace. */
function noIntervalFailed(agent: AgentProcess): void {
  assert.equal(agent.lines.filter((l) => /cannot optimize or export/.test(msg(l))).length, 0, agent.stderr);
  assert.ok(!agent.stderr.includes('"stack"'), 'no stack trace in the log');
}

/** Every line of the file is a whole JSON document, and the file ends with a line's end. */
function assertJsonLines(path: string): number {
  const text = readFileSync(path, 'utf8');
  if (text === '') return 0;
  assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) assert.doesNotThrow(() => JSON.parse(line), `line ${i + 1} of ${path} is whole JSON`);
  return lines.length;
}

describe('delivery that does not stop for good', () => {
  it('skips a batch file removed from the queue while the backend is down, counts it as lost, says so once, and delivers the rest', async () => {
    const port = await freePort();
    const { dataDir, config } = setup();
    const agent = startAgent(config, { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    await agent.waitForLog((l) => /failed: .*ECONNREFUSED/.test(msg(l)), 20_000, 'the outage to be noticed');
    await agent.waitForLog(() => batchFiles(dataDir).length >= 4, 30_000, 'four queued batches');
    const [oldest] = batchFiles(dataDir); // the one the sender retries
    rmSync(join(dataDir, 'queue', oldest!));
    const lost = await agent.waitForLog((l) => /removed outside the agent/.test(msg(l)), 20_000, 'the missing batch to be noticed');
    assert.equal(lost.lost_batches, 1);
    assert.match(msg(lost), new RegExp(`\\(${oldest!.replace('.batch', '')}\\): skipped; 1 queued batch lost`));

    const r = await receiver({ port });
    await r.until(() => r.requests.length > 0, 20_000, 'the first delivery');
    const before = agent.intervals();
    // Everything still queued goes, then new intervals: delivery did not stop.
    await r.until(() => delivered(r).size >= before + 1, 30_000, 'every interval but the removed one, and a new one');
    await agent.waitForLog((l) => /delivering again/.test(msg(l)), 10_000, 'the recovery');
    const metrics = await agent.metrics();
    assert.equal(sample(metrics, 'nrdot_export_batches_lost_total'), 1);
    const s = await status(dataDir);
    assert.equal(s.export.otlp.lost, 1);
    assert.equal(s.export.otlp.failing, false);
    assert.match(await statusText(dataDir), /1 lost/);
    // The same counter travels with the batches as an OTLP self-metric.
    const counters = selfOf(r.accepted()).flatMap(metricsOf).filter((m) => m.name === 'nrdot.export.batches.lost');
    assert.ok(counters.some((m) => m.sum!.dataPoints[0]!.asInt === '1'), 'nrdot.export.batches.lost reached 1');
    assert.equal(agent.lines.filter((l) => /removed outside the agent/.test(msg(l))).length, 1, 'logged once');
    assert.equal(agent.lines.filter((l) => /ENOENT/.test(msg(l))).length, 0, 'no retry of a file that is gone');
    noIntervalFailed(agent);
  });

  it('recreates a queue folder removed under a running agent, tells the truth in status, and delivers again', async () => {
    const port = await freePort();
    const { dataDir, config } = setup();
    const agent = startAgent(config, { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    await agent.waitForLog(() => batchFiles(dataDir).length >= 4, 30_000, 'four queued batches');
    const queued = batchFiles(dataDir).length;
    rmSync(join(dataDir, 'queue'), { recursive: true });
    await agent.waitForLog((l) => /was removed: recreated it/.test(msg(l)), 20_000, 'the removed queue to be noticed');
    await intervals(agent, 3, 'intervals after the queue was removed');
    noIntervalFailed(agent);
    // Status counts what is on disk, not the batches that were removed.
    const s = await status(dataDir);
    const onDisk = batchFiles(dataDir).length;
    assert.ok(Math.abs(s.export.otlp.queue_batches - onDisk) <= 1, `status says ${s.export.otlp.queue_batches} batches, ${onDisk} on disk`);
    assert.ok(s.export.otlp.queue_batches < queued + 3);
    // A retry may catch the removal half-way (some files gone, the folder not yet): two lines then.
    assert.ok(s.export.otlp.lost >= queued, `${s.export.otlp.lost} lost of the ${queued} seen`);

    const r = await receiver({ port });
    await r.until(() => delivered(r).size >= onDisk + 1, 30_000, 'the batches queued since, and a new one');
    assert.equal(sample(await agent.metrics(), 'nrdot_export_batches_lost_total'), s.export.otlp.lost);
    assert.equal(agent.lines.filter((l) => /was removed: recreated it/.test(msg(l))).length, 1, 'logged once');
    assert.ok(existsSync(join(dataDir, 'queue', '.lock')), 'the recreated queue is locked again');
  });

  it('says a backend refusing every batch (403) is failing until it accepts one, without the key', async () => {
    const r = await receiver();
    let accept = false;
    r.respond = () => (accept ? { status: 200 } : { status: 403, body: `invalid api-key ${LICENSE_KEY}` });
    const { dataDir, config } = setup();
    const agent = startAgent(config, { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url, NEW_RELIC_LICENSE_KEY: LICENSE_KEY });
    await r.until(() => r.requests.length >= 2, 20_000, 'two refused batches');
    const s = await status(dataDir);
    assert.equal(s.export.otlp.failing, true);
    assert.ok(s.export.otlp.failing_since !== null);
    assert.match(s.export.otlp.last_error!, /^403 \(invalid api-key \*\*\*\)/);
    const text = await statusText(dataDir);
    assert.match(text, /OTLP .*: failing since .*: 403/);
    assert.ok(!text.includes(LICENSE_KEY) && !JSON.stringify(s).includes(LICENSE_KEY));
    assert.equal(sample(await agent.metrics(), 'nrdot_export_failing', '{exporter="otlp"}'), 1);

    accept = true;
    await r.until(() => r.requests.some((q) => q.status === 200), 20_000, 'an accepted batch');
    await agent.waitForLog((l) => /accepted again/.test(msg(l)), 10_000, 'the recovery to be logged');
    const healed = await status(dataDir);
    assert.equal(healed.export.otlp.failing, false);
    assert.equal(healed.export.otlp.last_error, null);
    assert.equal(sample(await agent.metrics(), 'nrdot_export_failing', '{exporter="otlp"}'), 0);
  });

  it('keeps OTLP and the KPI history going while the file exporter\'s disk is full, keeps the file whole JSON lines, and resumes', { skip: ROOT_ONLY }, async () => {
    const fs = tmpfs('256k');
    const path = join(fs, 'otlp.jsonl');
    const r = await receiver();
    const { dataDir, config } = setup(`  file: { path: ${JSON.stringify(path)} }\n`);
    const agent = startAgent(config, { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
    await agent.waitForLog(() => existsSync(path) && assertJsonLines(path) >= 1, 20_000, 'a line in the file');
    // Full, but for a page: the next line is cut short by the disk.
    const filler = fill(fs, 4096);
    const failed = await agent.waitForLog((l) => /file exporter .*ENOSPC/.test(msg(l)), 20_000, 'the file exporter to fail');
    assert.equal(failed.level, 50);
    const lines = assertJsonLines(path);
    const kpisBefore = (await api<{ rows: unknown[] }>(agent, '/api/v1/kpis/history?resolution=raw')).rows.length;
    const deliveredBefore = delivered(r).size;
    await intervals(agent, 3, 'intervals while the file exporter fails');
    await r.until(() => delivered(r).size >= deliveredBefore + 3, 20_000, 'OTLP delivery going on');
    assert.ok((await api<{ rows: unknown[] }>(agent, '/api/v1/kpis/history?resolution=raw')).rows.length >= kpisBefore + 3, 'the KPI history goes on');
    assert.equal(assertJsonLines(path), lines, 'no line added, no piece of one left');
    const s = await status(dataDir);
    assert.equal(s.export.file!.failing, true);
    assert.match(s.export.file!.last_error!, /ENOSPC/);
    assert.ok(s.export.file!.intervals_failed >= 3);
    assert.equal(s.export.otlp.failing, false);
    assert.match(await statusText(dataDir), new RegExp(`file ${path}: failing since .*ENOSPC`));
    const metrics = await agent.metrics();
    assert.equal(sample(metrics, 'nrdot_export_failing', '{exporter="file"}'), 1);
    assert.equal(sample(metrics, 'nrdot_export_failing', '{exporter="otlp"}'), 0);
    assert.ok(sample(metrics, 'nrdot_export_intervals_failed_total', '{exporter="file"}') >= 3);
    assert.equal(agent.lines.filter((l) => /file exporter .*ENOSPC/.test(msg(l))).length, 1, 'logged once');

    rmSync(filler);
    await agent.waitForLog((l) => /file exporter .*working again/.test(msg(l)), 20_000, 'the file exporter to resume');
    await agent.waitForLog(() => assertJsonLines(path) >= lines + 2, 20_000, 'new lines in the file');
    assert.equal((await status(dataDir)).export.file!.failing, false);
    assert.equal(sample(await agent.metrics(), 'nrdot_export_failing', '{exporter="file"}'), 0);
    noIntervalFailed(agent);
  });

  it('--once on a full disk under the file exporter still sends OTLP, and exits 1 saying why', { skip: ROOT_ONLY }, async () => {
    const fs = tmpfs('64k');
    fill(fs);
    const r = await receiver();
    const { dataDir, config } = setup(`  file: { path: ${JSON.stringify(join(fs, 'otlp.jsonl'))} }\n`);
    writeFileSync(join(fs, 'otlp.jsonl'), ''); // exists: the start's check that the path is writable passes
    const p = await run(AGENT, ['--once', '--procfs', procfs, '--config', config], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url } });
    assert.equal(p.code, 1, p.stderr);
    assert.match(p.stderr, /file exporter .*ENOSPC/);
    assert.ok(!p.stderr.includes('"stack"'), 'no stack trace');
    assert.equal(delivered(r).size, 1, 'OTLP got the interval');
  });

  it('degrades the store and the queue on a full data directory, loses nothing stored, says so, and resumes', { skip: ROOT_ONLY }, async () => {
    const dataDir = tmpfs('16m');
    const port = await freePort();
    const { config } = setup('', dataDir);
    const agent = startAgent(config, { NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    await agent.waitForLog(() => batchFiles(dataDir).length >= 3, 30_000, 'three batches queued while the backend is down');
    const kpis = (): Promise<{ rows: Array<{ time: number }> }> => api(agent, '/api/v1/kpis/history?resolution=raw');
    const journal = (): Promise<{ entries: unknown[] }> => api(agent, '/api/v1/journal');
    const filler = fill(dataDir);
    const stored = { batches: batchFiles(dataDir), kpis: (await kpis()).rows.map((k) => k.time), journal: (await journal()).entries };
    await agent.waitForLog((l) => /state store .*full/.test(msg(l)), 20_000, 'the store to fail');
    await agent.waitForLog((l) => /cannot store this interval's batch/.test(msg(l)), 20_000, 'the queue to fail');
    await intervals(agent, 2, 'intervals on a full disk');
    noIntervalFailed(agent);
    const s = await status(dataDir);
    assert.equal(s.store.failing, true);
    assert.match(s.store.last_error!, /full/);
    assert.equal(s.export.otlp.failing, true);
    assert.match(s.export.otlp.last_error!, /cannot store this interval's batch: .*ENOSPC/);
    assert.match(await statusText(dataDir), /store .*failing since .*full/);
    const metrics = await agent.metrics();
    assert.equal(sample(metrics, 'nrdot_store_failing'), 1);
    assert.ok(sample(metrics, 'nrdot_store_intervals_failed_total') >= 2);
    assert.equal(sample(metrics, 'nrdot_export_failing', '{exporter="otlp"}'), 1);
    assert.ok(sample(metrics, 'nrdot_export_intervals_failed_total', '{exporter="otlp"}') >= 2);
    assert.ok(s.export.otlp.dropped >= 2, 'the batches not queued are counted as dropped');
    for (const b of stored.batches) assert.ok(existsSync(join(dataDir, 'queue', b)), `queued batch ${b} kept`);
    assert.ok(!readdirSync(join(dataDir, 'queue')).some((f) => f.startsWith('.tmp-')), 'no batch cut short left behind');
    assert.equal(agent.lines.filter((l) => /state store .*full/.test(msg(l))).length, 1, 'the store failure is logged once');
    assert.equal(agent.lines.filter((l) => /cannot store this interval's batch/.test(msg(l))).length, 1, 'the queue failure is logged once');

    rmSync(filler);
    const r = await receiver({ port });
    await agent.waitForLog((l) => /state store .*working again/.test(msg(l)), 20_000, 'the store to resume');
    await agent.waitForLog((l) => /the queue in .* working again/.test(msg(l)), 20_000, 'the queue to resume');
    await r.until(() => delivered(r).size >= stored.batches.length + 1, 30_000, 'the batches queued before the disk filled, and a new one');
    const times = new Set((await kpis()).rows.map((k) => k.time));
    for (const t of stored.kpis) assert.ok(times.has(t), `KPI row ${t} kept`);
    assert.ok(times.size > stored.kpis.length, 'the KPI history goes on');
    assert.deepEqual((await journal()).entries, stored.journal, 'the journal is intact');
    const healed = await status(dataDir);
    assert.equal(healed.store.failing, false);
    assert.equal(healed.export.otlp.failing, false);
    assert.equal(sample(await agent.metrics(), 'nrdot_store_failing'), 0);
  });
});
