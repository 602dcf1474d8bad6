/**
 * `node dist/bench/export.js [--intervals N] [--json]`: what OTLP export costs the agent per
 * interval, for a host of about 1000 processes, and what it puts on the wire.
 *
 * The host is the four synthetic archetypes side by side (k8s-node, db-host, web-php, ci-runner:
 * about 1030 processes, one init and one kthreadd). Per interval, measured with process.cpuUsage() (user + system, all
 * threads):
 * - pipeline: the optimizer (for reference; not part of export);
 * - encode + queue: protobuf encoding (OpenTelemetry's serializer), cutting into requests, gzip, and
 *   the durable queue's write + fsync;
 * - send: the OTLP/HTTP sender draining the queue to a receiver in another process on loopback
 *   (its CPU is not counted).
 * For `balanced` and for the baseline (the stock scraper's output for the same processes: one
 * resource per process, cumulative, its own scope), it prints these and the wire bytes per datapoint.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redactor } from '../src/config/secrets.js';
import { createLogger } from '../src/agent/log.js';
import { defaultConfig } from '../src/config/index.js';
import { OtlpHttpSender } from '../src/export/otlp-http.js';
import { MAX_REQUEST_BYTES, type OtlpSettings } from '../src/export/otlp-settings.js';
import { DurableQueue } from '../src/export/queue.js';
import { openTransport } from '../src/export/transport.js';
import { buildRequests } from '../src/export/requests.js';
import { encodeProtobuf, type Scope, type Temporality } from '../src/otlp/encode.js';
import { baselineResource, SCRAPER } from '../src/pipeline/baseline.js';
import { emptyState, Pipeline, type Batch, type ResourceSeries } from '../src/pipeline/index.js';
import { hostAttributes } from '../src/pipeline/series.js';
import { ARCHETYPES, generate } from '../src/snapshot/synth.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { sideBySide } from './side-by-side.js';

/** One snapshot series of ~1000 processes: the archetypes merged, pids offset, one kernel. */
function bigHost(intervals: number): Snapshot[] {
  const runs = ARCHETYPES.map((archetype) => generate({ archetype, intervals, seed: 1 }).snapshots);
  return runs[0]!.map((first, i) => ({
    ...first,
    host: { ...first.host, name: 'bench-1000' },
    processes: sideBySide(runs.map((run) => run[i]!.processes), 1_000_000),
  }));
}

/** The receiver: another process, so that its CPU is not the agent's. */
async function startReceiver(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['--receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [port] = (await once(child, 'message')) as [number];
  return { child, url: `http://127.0.0.1:${port}/v1/metrics` };
}

function receiver(): void {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
  process.on('disconnect', () => process.exit(0));
}

interface Totals {
  pipelineUs: number;
  encodeUs: number;
  sendUs: number;
  requests: number;
  wireBytes: number;
  protobufBytes: number;
  datapoints: number;
  intervals: number;
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function measure(snapshots: Snapshot[], url: string, dir: string, kind: 'balanced' | 'baseline'): Promise<Totals> {
  const temporality: Temporality = kind === 'baseline' ? 'cumulative' : 'delta';
  const settings: OtlpSettings = {
    url,
    urlSource: 'bench',
    headers: {},
    compression: 'gzip',
    timeoutMs: 30_000,
    temporality,
    tls: {},
    queueDir: join(dir, kind),
    queueMaxBytes: 1e9,
    retryInitialMs: 1000,
    retryMaxMs: 1000,
    maxRequestsPerSecond: 1e6,
    splayMs: 0,
    warnings: [],
  };
  const queue = new DurableQueue({ dir: settings.queueDir, maxBytes: settings.queueMaxBytes });
  const sender = new OtlpHttpSender(settings, queue, createLogger('warn'), await openTransport(settings.tls), new Redactor());
  const pipeline = new Pipeline(defaultConfig(), 'balanced');
  const state = emptyState();
  const t: Totals = { pipelineUs: 0, encodeUs: 0, sendUs: 0, requests: 0, wireBytes: 0, protobufBytes: 0, datapoints: 0, intervals: 0 };
  for (const [i, snapshot] of snapshots.entries()) {
    const c0 = cpuUs();
    const { batch, kpis } = pipeline.run(snapshot, state, { decisions: false });
    const c1 = cpuUs();
    let resources: ResourceSeries[] = batch.resources;
    let scope: Scope | undefined;
    if (kind === 'baseline') {
      const host = hostAttributes(snapshot.host);
      resources = snapshot.processes.map((p) => baselineResource(host, p));
      scope = SCRAPER;
    }
    const c2 = cpuUs();
    const parts = resources.map((r) => encodeProtobuf([r], batch as Batch, temporality, scope));
    const { bodies } = buildRequests(parts, 'gzip', MAX_REQUEST_BYTES);
    for (const b of bodies) queue.enqueue(b);
    const c3 = cpuUs();
    await sender.flush();
    const c4 = cpuUs();
    if (queue.depth > 0) throw new Error('the receiver did not take every request');
    if (i === 0) continue; // warm-up: the first interval has no rates and a cold JIT
    t.intervals++;
    t.pipelineUs += c1 - c0;
    t.encodeUs += c3 - c2;
    t.sendUs += c4 - c3;
    t.requests += bodies.length;
    t.wireBytes += bodies.reduce((n, b) => n + b.length, 0);
    t.protobufBytes += parts.reduce((n, p) => n + p.length, 0);
    t.datapoints += kind === 'baseline' ? kpis.datapoints_baseline : kpis.datapoints_exported;
  }
  await sender.stop();
  queue.close();
  return t;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { intervals: { type: 'string', default: '30' }, json: { type: 'boolean', default: false }, receiver: { type: 'boolean', default: false } } });
  if (values.receiver) return receiver();
  const intervals = Number(values.intervals);
  const snapshots = bigHost(intervals + 1);
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-bench-export-'));
  const { child, url } = await startReceiver();
  try {
    const results: Record<string, Totals> = {};
    // The baseline's batches are built from the same snapshots; the balanced pipeline runs there too
    // (its KPIs count the baseline's datapoints) but its CPU is only reported for balanced.
    for (const kind of ['balanced', 'baseline'] as const) results[kind] = await measure(snapshots, url, dir, kind);
    const rows = Object.entries(results).map(([kind, t]) => {
      const per = (us: number): number => us / t.intervals / 1000;
      const exportMs = per(t.encodeUs + t.sendUs);
      return {
        kind,
        processes: snapshots[1]!.processes.length,
        datapoints_per_interval: Math.round(t.datapoints / t.intervals),
        requests_per_interval: t.requests / t.intervals,
        cpu_ms_pipeline: kind === 'baseline' ? null : round(per(t.pipelineUs)),
        cpu_ms_encode_queue: round(per(t.encodeUs)),
        cpu_ms_send: round(per(t.sendUs)),
        cpu_ms_export: round(exportMs),
        export_core_share_60s: exportMs / 60_000,
        export_core_share_10s: exportMs / 10_000,
        wire_bytes_per_interval: Math.round(t.wireBytes / t.intervals),
        wire_bytes_per_datapoint: round(t.wireBytes / t.datapoints),
        protobuf_bytes_per_datapoint: round(t.protobufBytes / t.datapoints),
      };
    });
    const [balanced, baseline] = rows;
    if (values.json) {
      console.log(JSON.stringify({ machine: machine(), intervals: results.balanced!.intervals, rows }, null, 2));
      return;
    }
    console.log(`${machine()}; ${results.balanced!.intervals} measured intervals of ${balanced!.processes} processes (after 1 warm-up)\n`);
    console.log(`${''.padEnd(28)}${'balanced'.padEnd(12)}baseline (stock scraper)`);
    const line = (label: string, f: (r: (typeof rows)[number]) => string): void => console.log(`${label.padEnd(28)}${f(balanced!).padEnd(12)}${f(baseline!)}`);
    line('datapoints / interval', (r) => String(r.datapoints_per_interval));
    line('requests / interval', (r) => String(r.requests_per_interval));
    line('CPU ms: pipeline', (r) => (r.cpu_ms_pipeline === null ? '-' : r.cpu_ms_pipeline.toFixed(2)));
    line('CPU ms: encode + queue', (r) => r.cpu_ms_encode_queue.toFixed(2));
    line('CPU ms: send', (r) => r.cpu_ms_send.toFixed(2));
    line('CPU ms: export total', (r) => r.cpu_ms_export.toFixed(2));
    line('  share of a core @ 60 s', (r) => pct(r.export_core_share_60s));
    line('  share of a core @ 10 s', (r) => pct(r.export_core_share_10s));
    line('wire bytes / interval', (r) => String(r.wire_bytes_per_interval));
    line('wire bytes / datapoint', (r) => r.wire_bytes_per_datapoint.toFixed(2));
    line('protobuf bytes / datapoint', (r) => r.protobuf_bytes_per_datapoint.toFixed(2));
    console.log(`\nwire bytes per interval: balanced is ${pct(1 - balanced!.wire_bytes_per_interval / baseline!.wire_bytes_per_interval)} smaller than the baseline`);
  } finally {
    child.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;
const pct = (x: number): string => `${(x * 100).toFixed(3)}%`;
function machine(): string {
  return `${cpus()[0]?.model.trim()} x${cpus().length}, Node ${process.version}`;
}

await main();
