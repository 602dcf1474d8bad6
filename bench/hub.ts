/**
 * The hub under a simulated fleet: `npm run bench:hub` (= npm run build && node dist/bench/hub.js)
 * `[--agents N[,N...]] [--db sqlite|postgres|both] [--heartbeat S] [--duration S] [--warmup S]
 *  [--workers N] [--no-propagation] [--propagation-view hub|workers|auto] [--pg-stats] [--hub-node-flags=FLAGS] [--json]`.
 *
 * Per scenario (agents x database): a PostgreSQL in a temporary directory when asked, the real
 * `bin/nrdot-plus-hub` on 127.0.0.1 with a temporary data dir and NRDOT_HUB_TOKEN, and load workers
 * (hub-worker.ts, forked) running the simulated agents (hub-sim.ts): OpAMP over HTTP and KPIs over
 * OTLP/HTTP protobuf, first messages spread over one heartbeat. After the warm-up, a measured window:
 * CPU of the hub, of PostgreSQL (postmaster and backends) and of the workers from /proc, the hub's peak
 * RSS, latencies as the clients saw them, errors. Then `nrdot-plus-ctl fleet config apply` of a
 * fragment to role=db, timed until every selected agent shows APPLIED in `GET /api/v1/agents`.
 * Prints the figures with issue 13's targets (PASS/FAIL) and writes them to bench/out/hub.json.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cleanUpOnExit, isStopping, killAndWait, killEverything, removeScratch, sleep, track } from './children.js';
import { agentSpec, type Applied } from './hub-sim.js';
import { machineTicks, memoryOf, processTicks, REPO, startHub, startPostgres, treeTicks, type Hub, type Postgres } from './hub-procs.js';
import { measurePropagation, type PropagationView } from './hub-propagation.js';
import { judge, mergeLatency, printScenario, type CpuShares, type Phase, type ScenarioResult } from './hub-report.js';
import { addCounters, Histogram, REQUEST_TYPES, type Counters, type RequestType } from './hub-stats.js';
import type { WorkerInit, WorkerReport } from './hub-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const OUT = join(REPO, 'bench/out'); // gitignored
const KPI_INTERVAL_S = 60;

interface Options {
  agents: number[];
  dbs: Array<'sqlite' | 'postgres'>;
  heartbeat: number;
  duration: number;
  warmup: number;
  workers: number | null;
  propagation: boolean;
  /** null: the hub's view below 5,000 agents, the workers' records then the hub's view from 5,000. */
  propagationView: PropagationView | null;
  /** PostgreSQL's statements by total time over the window (pg_stat_statements). */
  pgStats: boolean;
  /** Extra node flags for the hub (a CPU profile, V8's memory flags). */
  hubNodeFlags: string[];
  json: boolean;
}

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;
const progress = (text: string): boolean => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);

// ---- Workers.

class Worker {
  private constructor(readonly child: ChildProcess) {}

  static async start(init: WorkerInit): Promise<Worker> {
    const child = track(fork(join(HERE, 'hub-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), 'hub-worker');
    const w = new Worker(child);
    await w.ask({ type: 'init', ...init }, 'ready');
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async ask<T>(msg: object, reply: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }): void => {
        if (m.type !== reply) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null): void => reject(new Error(`a load worker exited (${code})`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(msg);
    });
  }

  report(): Promise<WorkerReport> {
    return this.ask<WorkerReport>({ type: 'report' }, 'report');
  }
}

// ---- CPU over a window.

interface CpuSample {
  atMs: number;
  hub: number;
  postgres: number;
  workers: number;
  bench: number;
  machine: { busy: number; total: number };
}

function cpuSample(hub: Hub, pg: Postgres | null, workers: Worker[]): CpuSample {
  const usage = process.cpuUsage();
  return {
    atMs: performance.now(),
    hub: processTicks(hub.pid),
    postgres: pg ? treeTicks(pg.pid) : 0,
    workers: workers.reduce((s, w) => s + processTicks(w.pid), 0),
    bench: (usage.user + usage.system) / 1e6, // seconds
    machine: machineTicks(),
  };
}

function shares(a: CpuSample, b: CpuSample, clockTicks: number, withPg: boolean): CpuShares {
  const wallS = (b.atMs - a.atMs) / 1000;
  const share = (ticks: number): number => round(ticks / clockTicks / wallS);
  const cores = os.availableParallelism();
  // /proc/stat counts every core: its busy ticks over the window, as shares of one core.
  const machineBusy = round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * cores);
  const hub = share(b.hub - a.hub);
  const postgres = withPg ? share(b.postgres - a.postgres) : null;
  const workers = share(b.workers - a.workers);
  const bench = round((b.bench - a.bench) / wallS);
  return { hub, postgres, workers, bench, rest: round(Math.max(0, machineBusy - hub - (postgres ?? 0) - workers - bench)), machine_busy: machineBusy, cores };
}

// ---- One scenario.

async function gather(workers: Worker[]): Promise<WorkerReport[]> {
  return Promise.all(workers.map((w) => w.report()));
}

async function runScenario(o: Options, agents: number, db: 'sqlite' | 'postgres', clockTicks: number): Promise<ScenarioResult> {
  const nWorkers = o.workers ?? Math.min(4, Math.max(1, Math.ceil(agents / 2500)));
  progress(`${agents} agents on ${db}: starting ${db === 'postgres' ? 'PostgreSQL and ' : ''}the hub`);
  const pg = db === 'postgres' ? await startPostgres(200, o.pgStats) : null;
  const hub = await startHub({ database: pg?.url ?? null, heartbeatS: o.heartbeat, token: randomBytes(16).toString('hex'), nodeFlags: o.hubNodeFlags });
  const workers: Worker[] = [];
  try {
    const per = Math.ceil(agents / nWorkers);
    for (let i = 0; i < nWorkers; i++) {
      const first = i * per;
      const count = Math.min(per, agents - first);
      if (count <= 0) break;
      workers.push(await Worker.start({ hubUrl: hub.url, first, count, defaultHeartbeatS: o.heartbeat, kpiIntervalS: KPI_INTERVAL_S, spreadMs: o.heartbeat * 1000, timeoutMs: 15_000, headers: {} }));
    }
    const t0 = performance.now();
    // Every agent has sent its first message once the spread is over; then the warm-up.
    for (const deadline = Date.now() + (o.heartbeat * 2 + 60) * 1000; ; await sleep(1000)) {
      const started = (await gather(workers)).reduce((s, r) => s + r.started, 0);
      if (started >= agents) break;
      if (!hub.running()) throw new Error(`the hub exited:\n${hub.log()}`);
      if (Date.now() > deadline) throw new Error(`only ${started} of ${agents} agents started`);
    }
    progress(`all ${agents} agents started; warming up for ${o.warmup} s`);
    await sleep(o.warmup * 1000);

    if (pg && o.pgStats) await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()');
    const arrival = phase(await gather(workers), (performance.now() - t0) / 1000);
    await Promise.all(workers.map((w) => w.ask({ type: 'reset' }, 'reset')));
    const load0 = os.loadavg()[0]!;
    const before = cpuSample(hub, pg, workers);
    progress(`measuring for ${o.duration} s`);
    for (let left = o.duration; left > 0; left -= 30) {
      await sleep(Math.min(30, left) * 1000);
      if (!hub.running()) throw new Error(`the hub exited during the window:\n${hub.log()}`);
      if (left > 30) progress(`  ${o.duration - left + 30}/${o.duration} s`);
    }
    const after = cpuSample(hub, pg, workers);
    const window = await gather(workers);
    await Promise.all(workers.map((w) => w.ask({ type: 'reset' }, 'reset')));
    const load1 = os.loadavg()[0]!;
    const cpu = shares(before, after, clockTicks, pg !== null);
    const statements = pg && o.pgStats ? await statementStats(pg, (after.atMs - before.atMs) / 1000) : null;

    let propagation: ScenarioResult['propagation'] = null;
    let cpuPropagation: CpuShares | null = null;
    const p0 = cpuSample(hub, pg, workers);
    if (o.propagation) {
      const selected = Array.from({ length: agents }, (_, i) => agentSpec(i)).filter((s) => s.role === 'db').length;
      progress(`config propagation: fleet config apply --selector role=db (${selected} agents)`);
      const applied = async (): Promise<Applied[]> => (await gather(workers)).flatMap((r) => r.applied);
      // Polling the view of a large fleet every 250 ms is load of its own on the hub (bench/README.md).
      const view = o.propagationView ?? (agents < 5000 ? 'hub' : 'workers');
      propagation = await measurePropagation(hub, applied, selected, o.heartbeat, view);
      cpuPropagation = shares(p0, cpuSample(hub, pg, workers), clockTicks, pg !== null);
    }

    const final = await gather(workers);
    const propagationPhase = o.propagation ? phase(final, (performance.now() - p0.atMs) / 1000) : null;
    const mem = memoryOf(hub.pid);
    const heartbeats: Record<string, number> = {};
    for (const r of final) addCounters(heartbeats, r.heartbeats);
    const partial: Omit<ScenarioResult, 'targets'> = {
      agents,
      db,
      heartbeat_s: o.heartbeat,
      kpi_interval_s: KPI_INTERVAL_S,
      window_s: round((after.atMs - before.atMs) / 1000, 1),
      workers: workers.length,
      load_average: [round(load0, 2), round(load1, 2)],
      cpu,
      cpu_propagation: cpuPropagation,
      hub_peak_rss_bytes: mem.hwm,
      hub_rss_bytes_end: mem.rss,
      arrival,
      window: phase(window, (after.atMs - before.atMs) / 1000),
      propagation_phase: propagationPhase,
      sent_total: final.reduce((s, r) => s + r.total.sent, 0),
      errors_total: final.reduce((c, r) => addCounters(c, r.total.errors), {} as Counters),
      unavailable_total: final.reduce((s, r) => s + r.total.unavailable, 0),
      in_flight_at_end: final.reduce((s, r) => s + r.inFlight, 0),
      heartbeats_offered: heartbeats,
      propagation,
      hub_problems: hubProblems(hub.log()),
      pg_statements: statements,
    };
    return { ...partial, targets: judge(partial) };
  } finally {
    await killAndWait(workers.map((w) => w.child));
    await hub.stop();
    await pg?.stop();
  }
}

/** What the workers reported for one phase (since their last reset). */
function phase(reports: WorkerReport[], seconds: number): Phase {
  const hists = Object.fromEntries(REQUEST_TYPES.map((t) => [t, new Histogram()])) as Record<RequestType, Histogram>;
  const sent = Object.fromEntries(REQUEST_TYPES.map((t) => [t, 0])) as Record<RequestType, number>;
  const errors: Counters = {};
  for (const r of reports) {
    for (const t of REQUEST_TYPES) {
      hists[t].merge(r.window.latency[t]);
      sent[t] += r.window.sent[t];
    }
    addCounters(errors, r.window.errors);
  }
  return {
    seconds: round(seconds, 1),
    sent,
    latency: mergeLatency(hists),
    errors,
    unavailable: reports.reduce((s, r) => s + r.window.unavailable, 0),
    full_state_requests: reports.reduce((s, r) => s + r.window.fullStateRequests, 0),
    full_state_unprovoked: reports.reduce((s, r) => s + r.window.fullStateUnprovoked, 0),
    new_uids: reports.reduce((s, r) => s + r.window.newUids, 0),
  };
}

/** The statements that took PostgreSQL's time in the window: calls per second, mean ms, share of the total. */
async function statementStats(pg: Postgres, windowS: number): Promise<ScenarioResult['pg_statements']> {
  const rows = await pg.query(
    "SELECT calls, total_exec_time, query FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 12",
  );
  const total = rows.reduce((s, r) => s + Number(r.total_exec_time), 0);
  return rows.map((r) => ({
    calls_per_s: round(Number(r.calls) / windowS, 1),
    mean_ms: round(Number(r.total_exec_time) / Number(r.calls), 3),
    share_of_top: round(Number(r.total_exec_time) / total, 3),
    query: String(r.query).replace(/\s+/g, ' ').slice(0, 160),
  }));
}

/** Warnings and errors in the hub's JSON log lines (pino levels 40 and up), from the tail kept. */
function hubProblems(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    try {
      const l = JSON.parse(line) as { level?: number; msg?: string };
      if (typeof l.level === 'number' && l.level >= 40) out.push(String(l.msg));
    } catch {
      // not a log line
    }
  }
  return out;
}

// ---- Options.

function fail(text: string): never {
  process.stderr.write(`${text}\n`);
  process.exit(2);
}

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got ${value}`);
  return n;
}

function propagationView(v: string): PropagationView | null {
  if (v === 'hub' || v === 'workers') return v;
  if (v === 'auto') return null;
  fail(`--propagation-view must be hub, workers or auto, got ${v}`);
}

function parseOptions(): Options {
  let values;
  try {
    values = parseArgs({
      options: {
        agents: { type: 'string', multiple: true },
        db: { type: 'string', default: 'both' },
        heartbeat: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        workers: { type: 'string' },
        'no-propagation': { type: 'boolean', default: false },
        'hub-node-flags': { type: 'string' },
        'pg-stats': { type: 'boolean', default: false },
        'propagation-view': { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  const agents = (values.agents ?? ['1000,10000']).flatMap((a) => a.split(',')).map((a) => positive(a.trim(), 0, '--agents'));
  const db = values.db;
  if (db !== 'sqlite' && db !== 'postgres' && db !== 'both') fail(`--db must be sqlite, postgres or both, got ${db}`);
  const heartbeat = positive(values.heartbeat, 30, '--heartbeat');
  return {
    agents: [...new Set(agents)].sort((a, b) => a - b),
    dbs: db === 'both' ? ['sqlite', 'postgres'] : [db],
    heartbeat,
    duration: positive(values.duration, 120, '--duration'),
    warmup: values.warmup === '0' ? 0 : positive(values.warmup, heartbeat, '--warmup'),
    workers: values.workers === undefined ? null : positive(values.workers, 1, '--workers'),
    propagation: !values['no-propagation'],
    pgStats: values['pg-stats'],
    propagationView: propagationView(values['propagation-view']),
    hubNodeFlags: (values['hub-node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    json: values.json,
  };
}

async function main(): Promise<void> {
  const o = parseOptions();
  cleanUpOnExit();
  const started = Date.now();
  const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    kernel: os.release(),
    node: process.version,
    memory_bytes: os.totalmem(),
    load_average_start: os.loadavg().map((x) => round(x, 2)),
  };
  progress(`machine: ${machine.cpu}, ${machine.cores} cores, load average ${machine.load_average_start.join(' ')}`);
  const scenarios: ScenarioResult[] = [];
  for (const agents of o.agents) {
    for (const db of o.dbs) {
      const r = await runScenario(o, agents, db, clockTicks);
      scenarios.push(r);
      if (!o.json) printScenario(r);
    }
  }
  const result = { machine: { ...machine, load_average_end: os.loadavg().map((x) => round(x, 2)) }, options: o, seconds: Math.round((Date.now() - started) / 1000), scenarios };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'hub.json'), JSON.stringify(result, null, 2) + '\n');
  if (o.json) console.log(JSON.stringify(result, null, 2));
  else console.log(`\nmachine: ${machine.cpu}, ${machine.cores} cores, kernel ${machine.kernel}, node ${machine.node}; ${result.seconds} s; written to ${join(OUT, 'hub.json')}`);
  if (scenarios.some((s) => s.targets.some((t) => !t.pass))) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  if (!isStopping()) process.stderr.write(`benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await killEverything();
  removeScratch();
}
