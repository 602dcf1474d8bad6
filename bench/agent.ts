/**
 * The agent daemon's overhead, measured from outside as users run it:
 * `node dist/bench/agent.js [--duration SECONDS] [--interval SECONDS] [--procs N]
 *   [--replay-processes N] [--replay-snapshots N] [--node-options FLAGS] [--json]`.
 *
 * 1. Live: N idle processes (default 1000), then the real `bin/nrdot-plus --interval 10` with OTLP
 *    export on to a loopback receiver in another process, for --duration seconds after its first
 *    interval. Its CPU share of one core (utime + stime from /proc/PID/stat, all threads), its peak
 *    resident memory (VmHWM) and its own per-interval KPIs (agent_cpu_percent, agent_rss_bytes).
 * 2. Ten times the volume: a synthetic recording of ~10,000 processes replayed as fast as possible
 *    (`--replay FILE --replay-pace fast`), OTLP on: CPU per interval of pipeline, export and state
 *    store, plus this host's procfs read cost per process times the processes, as a share of one
 *    core at the interval; peak resident memory.
 * Prints a summary with the targets beside the figures and writes it to bench/out/agent.json.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readCostMs, replayRecording } from './agent-recording.js';
import { cleanUpOnExit, isLive, isStopping, killAndWait, killEverything, removeScratch, scratchDir, sleep, track } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = resolve(HERE, '../..');
const OUT = join(REPO, 'bench/out'); // gitignored
const AGENT = join(REPO, 'bin/nrdot-plus');
const SETPRIV = '/usr/bin/setpriv';
/** SPEC "Targets": under 1% of one core and under 100 MB resident, at 1000 processes and at 10x. */
const TARGET_CPU_SHARE = 0.01;
const TARGET_RSS_BYTES = 100e6;

interface Options {
  duration: number;
  interval: number;
  procs: number;
  replayProcesses: number;
  replaySnapshots: number;
  nodeOptions: string | undefined;
  json: boolean;
}

// ---- Reading the agent from outside.

/** utime + stime of a whole process (every thread), in clock ticks: /proc/PID/stat fields 14, 15. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident memory now (VmRSS) and its high-water mark (VmHWM), in bytes. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Sample {
  atMs: number;
  ticks: number;
  rss: number;
}

function sample(pid: number): Sample {
  return { atMs: performance.now(), ticks: cpuTicks(pid), rss: memory(pid).rss };
}

type LogLine = Record<string, unknown>;

const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

/** The agent as a child: its JSON log lines, and a sample of its CPU and memory at every interval line. */
class Agent {
  readonly lines: LogLine[] = [];
  readonly intervals: Array<{ line: LogLine; sample: Sample }> = [];
  finished: Sample | null = null;
  private tail = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stderr! }).on('line', (text) => {
      this.tail = (this.tail + text + '\n').slice(-4000);
      let line: LogLine | null = null;
      try {
        line = text.startsWith('{') ? (JSON.parse(text) as LogLine) : null;
      } catch {
        // not a log line
      }
      if (line) {
        this.lines.push(line);
        // Sampled as the line arrives: the window's ends are the ends of intervals.
        if (isInterval(line)) this.intervals.push({ line, sample: this.sampleOrNull() ?? { atMs: performance.now(), ticks: NaN, rss: NaN } });
        if (/replay finished/.test(String(line.msg))) this.finished = this.sampleOrNull();
      }
      for (const w of this.waiters) w();
    });
    child.once('exit', () => {
      for (const w of this.waiters) w();
    });
  }

  static start(args: string[], env: NodeJS.ProcessEnv): Agent {
    // setpriv execs node (same pid) with a parent-death SIGKILL: a benchmark killed with SIGKILL
    // leaves no agent behind.
    const argv = [process.execPath, AGENT, ...args];
    const [cmd, rest] = hasSetpriv() ? [SETPRIV, ['--pdeathsig', 'KILL', ...argv]] : [argv[0]!, argv.slice(1)];
    return new Agent(track(spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'pipe'], env }), 'nrdot-plus'));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private sampleOrNull(): Sample | null {
    try {
      return sample(this.pid);
    } catch {
      return null; // exited
    }
  }

  /** Resolves with probe()'s first truthy value; rejects when the agent exits or the time is up. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; agent's stderr ends:\n${this.tail}`)), timeoutMs);
      const finish = (err: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(value!);
      };
      const check = (): void => {
        const value = probe();
        if (value) finish(null, value);
        else if (!this.running) finish(new Error(`the agent exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; its stderr ends:\n${this.tail}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Warnings and errors it logged (pino levels 40 and up). */
  problems(): string[] {
    return this.lines.filter((l) => typeof l.level === 'number' && l.level >= 40).map((l) => String(l.msg));
  }

  /** SIGTERM, 15 s to stop, then SIGKILL. */
  async stop(): Promise<void> {
    if (!this.running || !isLive(this.pid)) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => void killAndWait([this.child]), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

let setprivChecked: boolean | null = null;
function hasSetpriv(): boolean {
  if (setprivChecked === null) {
    try {
      execFileSync(SETPRIV, ['--version'], { stdio: 'ignore' });
      setprivChecked = true;
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

/** The agent's environment: its own data directory, no configuration file, OTLP to the receiver, no proxy. */
function agentEnv(dataDir: string, endpoint: string, nodeOptions: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of the caller's agent settings (a license key would send to New Relic instead).
    if (!/^(NRDOT_|OTEL_|NEW_RELIC_)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    NRDOT_DATA_DIR: dataDir,
    NRDOT_HTTP_ADDR: '127.0.0.1:0',
    NRDOT_CONFIG: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '',
  });
  if (nodeOptions !== undefined) env.NODE_OPTIONS = nodeOptions;
  return env;
}

// ---- The OTLP receiver: another process, so that its CPU and memory are not the agent's.

interface ReceiverStats {
  requests: number;
  bytes: number;
  refused: number;
}

function serveReceiver(): void {
  const stats: ReceiverStats = { requests: 0, bytes: 0, refused: 0 };
  const server = createServer((req, res) => {
    const ok = req.method === 'POST' && req.url === '/v1/metrics';
    req.on('data', (chunk: Buffer) => (stats.bytes += ok ? chunk.length : 0));
    req.on('end', () => {
      if (ok) stats.requests++;
      else stats.refused++;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
  process.on('message', () => process.send!(stats));
  process.on('disconnect', () => process.exit(0));
}

class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<Receiver> {
    const child = track(fork(fileURLToPath(import.meta.url), ['--receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), 'OTLP receiver');
    const [port] = (await once(child, 'message')) as [number];
    return new Receiver(child, `http://127.0.0.1:${port}`);
  }

  async stats(): Promise<ReceiverStats> {
    const reply = once(this.child, 'message');
    this.child.send('stats');
    return (await reply)[0] as ReceiverStats;
  }
}

// ---- Idle processes.

/** bench/c/idle.c (asleep in pause(), killed by the kernel if we die) when cc builds it; else sleep. */
function idleCommand(): { cmd: string; args: string[]; comm: string } {
  const dir = join(OUT, 'agent-bin');
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `idle.${process.pid}`);
    execFileSync('cc', ['-O2', '-Wall', '-o', tmp, join(REPO, 'bench/c/idle.c')], { stdio: ['ignore', 2, 2] });
    renameSync(tmp, join(dir, 'idle')); // a running bench:procfs keeps its own binary
    return { cmd: join(dir, 'idle'), args: ['0', String(process.pid)], comm: 'idle' };
  } catch {
    process.stderr.write('no C compiler: using `sleep 100000` as the idle processes\n');
    return hasSetpriv()
      ? { cmd: SETPRIV, args: ['--pdeathsig', 'KILL', 'sleep', '100000'], comm: 'sleep' }
      : { cmd: 'sleep', args: ['100000'], comm: 'sleep' };
  }
}

async function spawnIdle(count: number): Promise<ChildProcess[]> {
  const { cmd, args, comm } = idleCommand();
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) children.push(track(spawn(cmd, args, { stdio: 'ignore' }), cmd));
  // Ready means exec'd and asleep: nothing left to change under the agent.
  const pending = new Set(children.map((c) => c.pid!));
  for (const deadline = Date.now() + 60_000; pending.size > 0; await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`${pending.size} idle processes not ready after 60 s`);
    for (const pid of pending) {
      if (!isLive(pid)) throw new Error(`idle process ${pid} exited early`);
      try {
        if (readFileSync(`/proc/${pid}/stat`, 'latin1').includes(`(${comm}) S`)) pending.delete(pid);
      } catch {
        // not there yet
      }
    }
  }
  return children;
}

/** Our procfs reader alone in a process (bench/procfs-worker.ts): CPU per steady-state scrape. */
async function readerCost(): Promise<{ processes: number; cpu_ms_per_scrape: number }> {
  const child = track(spawn(process.execPath, [join(HERE, 'procfs-worker.js'), '/proc', '20', '5'], { stdio: ['ignore', 'pipe', 'inherit'] }), 'procfs-worker');
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`procfs-worker exited with ${code}`);
  const j = JSON.parse(out.trim().split('\n').pop()!) as { processes: number; cpu_us_per_scrape: number };
  return { processes: j.processes, cpu_ms_per_scrape: j.cpu_us_per_scrape / 1000 };
}

// ---- The two runs.

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
const nums = (lines: LogLine[], key: string): number[] => lines.map((l) => l[key]).filter((v): v is number => typeof v === 'number');

interface Ctx {
  o: Options;
  clockTicks: number;
  receiver: Receiver;
}

async function runLive(ctx: Ctx) {
  const { o, clockTicks } = ctx;
  const dataDir = scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-agent-live-')));
  const before = await ctx.receiver.stats();
  const agent = Agent.start(['--interval', String(o.interval)], agentEnv(dataDir, ctx.receiver.endpoint, o.nodeOptions));
  try {
    const n = Math.max(1, Math.round(o.duration / o.interval));
    await agent.waitFor(() => agent.intervals.length >= 1, (o.interval + 60) * 1000, 'the first interval');
    process.stderr.write(`live: first interval done (${String(agent.intervals[0]!.line.processes)} processes); measuring ${n} intervals of ${o.interval} s\n`);
    const progress = setInterval(() => process.stderr.write(`live: ${agent.intervals.length - 1}/${n} intervals\n`), 60_000);
    try {
      await agent.waitFor(() => agent.intervals.length >= n + 1, (n * o.interval + 120) * 1000, `${n} more intervals`);
    } finally {
      clearInterval(progress);
    }
    const mem = memory(agent.pid);
    const received = await ctx.receiver.stats();
    const [first, last] = [agent.intervals[0]!.sample, agent.intervals[n]!.sample];
    const window = agent.intervals.slice(1, n + 1).map((i) => i.line);
    const wallS = (last.atMs - first.atMs) / 1000;
    const cpuS = (last.ticks - first.ticks) / clockTicks;
    const processes = nums(window, 'processes');
    const readMs = nums(window, 'read_ms');
    return {
      intervals: n,
      window_s: round(wallS, 1),
      cpu_s: cpuS,
      cpu_share: cpuS / wallS,
      peak_rss_bytes: mem.hwm,
      end_rss_bytes: mem.rss,
      max_sampled_rss_bytes: max(agent.intervals.map((i) => i.sample.rss)),
      kpi_agent_cpu_percent: { mean: mean(nums(window, 'agent_cpu_percent')), max: max(nums(window, 'agent_cpu_percent')) },
      kpi_agent_rss_bytes: { mean: mean(nums(window, 'agent_rss_bytes')), max: max(nums(window, 'agent_rss_bytes')) },
      processes: { mean: mean(processes), min: Math.min(...processes), max: max(processes) },
      read_ms: { mean: mean(readMs), max: max(readMs) },
      read_ms_per_process: mean(readMs) / mean(processes),
      skipped_ticks: agent.lines.filter((l) => typeof l.skipped === 'number').length,
      otlp_requests: received.requests - before.requests,
      otlp_bytes: received.bytes - before.bytes,
      problems: agent.problems(),
    };
  } finally {
    await agent.stop();
  }
}

async function runReplay(ctx: Ctx, live: { read_ms_per_process: number }) {
  const { o, clockTicks } = ctx;
  process.stderr.write(`replay: preparing a recording of ~${o.replayProcesses} processes x ${o.replaySnapshots} snapshots in bench/out/\n`);
  const rec = await replayRecording(OUT, o.replayProcesses, o.replaySnapshots, o.interval);
  process.stderr.write(`replay: ${rec.path} (${rec.cached ? 'cached' : 'generated'}, ${rec.processes} processes)\n`);
  const parseMs = await readCostMs(rec.path);
  const dataDir = scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-agent-replay-')));
  const before = await ctx.receiver.stats();
  const args = ['--interval', String(o.interval), '--replay', rec.path, '--replay-pace', 'fast'];
  const agent = Agent.start(args, agentEnv(dataDir, ctx.receiver.endpoint, o.nodeOptions));
  try {
    await agent.waitFor(() => agent.intervals.length >= 1, 120_000, 'the first replayed interval');
    const finished = await agent.waitFor(() => agent.finished, 600_000, 'replay finished');
    // Export runs beside the replay and may lag it (splay, drain-rate bound): wait for an empty queue.
    const queue = join(dataDir, 'queue');
    const queued = (): number => readdirSync(queue).filter((n) => n.endsWith('.batch')).length;
    for (const deadline = Date.now() + 300_000; queued() > 0; await sleep(100)) {
      if (Date.now() > deadline || !agent.running) throw new Error(`the OTLP queue did not drain (${queued()} batches left)`);
    }
    const drained = sample(agent.pid);
    const mem = memory(agent.pid);
    const received = await ctx.receiver.stats();
    const first = agent.intervals[0]!.sample;
    const measured = agent.intervals.length - 1; // the first interval (cold JIT, no rates) is outside
    const window = agent.intervals.slice(1).map((i) => i.line);
    const cpuMs = (s: Sample): number => ((s.ticks - first.ticks) / clockTicks) * 1000;
    const perInterval = cpuMs(drained) / measured;
    const processes = mean(nums(window, 'processes'));
    const intervalMs = o.interval * 1000;
    const replayShare = perInterval / intervalMs;
    const readShare = (live.read_ms_per_process * processes) / intervalMs;
    return {
      recording: rec.path,
      snapshots: agent.intervals.length,
      processes: Math.round(processes),
      measured_intervals: measured,
      replay_wall_s: round((finished.atMs - first.atMs) / 1000, 1),
      drain_wall_s: round((drained.atMs - finished.atMs) / 1000, 1),
      cpu_ms_per_interval_to_finished: cpuMs(finished) / measured,
      cpu_ms_per_interval: perInterval,
      replay_share: replayShare,
      recording_read_ms_per_interval: parseMs,
      read_ms_estimate: live.read_ms_per_process * processes,
      read_share: readShare,
      total_share: replayShare + readShare,
      total_share_without_recording_read: replayShare + readShare - parseMs / intervalMs,
      peak_rss_bytes: mem.hwm,
      end_rss_bytes: mem.rss,
      kpi_agent_rss_bytes_max: max(nums(window, 'agent_rss_bytes')),
      otlp_requests: received.requests - before.requests,
      otlp_bytes: received.bytes - before.bytes,
      problems: agent.problems(),
    };
  } finally {
    await agent.stop();
  }
}

/** Resident memory of node alone and of node with the agent's modules loaded (imported, not run). */
async function referenceRss(nodeOptions: string | undefined): Promise<{ node: number; node_agent_modules: number }> {
  const script =
    "const u=process.argv[1];(u?import(u):Promise.resolve()).then(()=>setTimeout(()=>process.stdout.write(String(process.memoryUsage.rss())),500))";
  const env = nodeOptions === undefined ? process.env : { ...process.env, NODE_OPTIONS: nodeOptions };
  const rss = async (url: string | null): Promise<number> => {
    const child = track(spawn(process.execPath, ['-e', script, ...(url ? [url] : [])], { stdio: ['ignore', 'pipe', 'inherit'], env }), 'node -e');
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await once(child, 'close');
    return Number(out);
  };
  const main = new URL(`file://${join(REPO, 'dist/src/agent/main.js')}`).href;
  return { node: await rss(null), node_agent_modules: await rss(main) };
}

// ---- Report.

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;
const pct = (share: number): string => `${(share * 100).toFixed(3)}%`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`${flag} must be a positive integer, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      interval: { type: 'string' },
      procs: { type: 'string' },
      'replay-processes': { type: 'string' },
      'replay-snapshots': { type: 'string' },
      'node-options': { type: 'string' },
      json: { type: 'boolean', default: false },
      receiver: { type: 'boolean', default: false },
    },
  });
  if (values.receiver) return serveReceiver();
  const o: Options = {
    duration: positive(values.duration, 300, '--duration'),
    interval: positive(values.interval, 10, '--interval'),
    procs: positive(values.procs, 1000, '--procs'),
    replayProcesses: positive(values['replay-processes'], 10_000, '--replay-processes'),
    replaySnapshots: Math.max(2, positive(values['replay-snapshots'], 31, '--replay-snapshots')),
    nodeOptions: values['node-options'],
    json: values.json,
  };
  cleanUpOnExit();
  const started = Date.now();
  const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const machine = {
    cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    kernel: os.release(),
    node: process.version,
    clock_ticks: clockTicks,
    agent_node_options: o.nodeOptions ?? process.env.NODE_OPTIONS ?? '',
  };
  mkdirSync(OUT, { recursive: true });
  const reference = await referenceRss(o.nodeOptions);
  const receiver = await Receiver.start();
  const ctx: Ctx = { o, clockTicks, receiver };

  process.stderr.write(`spawning ${o.procs} idle processes\n`);
  const idle = await spawnIdle(o.procs);
  const live = await runLive(ctx);
  const reader = await readerCost(); // same host, idle processes still there
  await killAndWait(idle);
  const replay = await runReplay(ctx, live);

  const targets = {
    live_cpu: live.cpu_share < TARGET_CPU_SHARE,
    live_peak_rss: live.peak_rss_bytes < TARGET_RSS_BYTES,
    ten_x_cpu: replay.total_share < TARGET_CPU_SHARE,
    ten_x_peak_rss: replay.peak_rss_bytes < TARGET_RSS_BYTES,
  };
  const result = {
    machine,
    params: { duration_s: o.duration, interval_s: o.interval, idle_processes: o.procs, replay_processes: o.replayProcesses, replay_snapshots: o.replaySnapshots },
    seconds: Math.round((Date.now() - started) / 1000),
    reference_rss_bytes: reference,
    live,
    reader: { ...reader, ms_per_process: reader.cpu_ms_per_scrape / reader.processes },
    replay,
    targets: { cpu_share: TARGET_CPU_SHARE, rss_bytes: TARGET_RSS_BYTES, ...targets },
  };
  writeFileSync(join(OUT, 'agent.json'), JSON.stringify(result, null, 2) + '\n');
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const rows: Array<[string, string, string]> = [];
  const row = (label: string, figure: string, target = ''): number => rows.push([label, figure, target]);
  const l = live;
  const r = replay;
  row(`live: ${Math.round(l.processes.mean)} processes (${o.procs} idle), ${l.intervals} intervals of ${o.interval} s, ${l.window_s} s`, '');
  row('  CPU, share of one core (/proc stat)', pct(l.cpu_share), `< 1%    ${verdict(targets.live_cpu)}`);
  row('  peak RSS (VmHWM)', mb(l.peak_rss_bytes), `< 100 MB ${verdict(targets.live_peak_rss)}`);
  row('  RSS at the end (VmRSS)', mb(l.end_rss_bytes));
  row('  agent_cpu_percent (own KPI) mean / max', `${l.kpi_agent_cpu_percent.mean.toFixed(3)}% / ${l.kpi_agent_cpu_percent.max.toFixed(2)}%`);
  row('  agent_rss_bytes (own KPI) mean / max', `${mb(l.kpi_agent_rss_bytes.mean)} / ${mb(l.kpi_agent_rss_bytes.max)}`);
  row('  processes per interval mean (min-max)', `${Math.round(l.processes.mean)} (${l.processes.min}-${l.processes.max})`);
  row('  read_ms mean (max); per process', `${l.read_ms.mean.toFixed(1)} ms (${l.read_ms.max.toFixed(1)}); ${(l.read_ms_per_process * 1000).toFixed(2)} us`);
  row('  reader alone (procfs-worker), CPU per process', `${((reader.cpu_ms_per_scrape / reader.processes) * 1000).toFixed(2)} us`);
  row('  OTLP requests / bytes received', `${l.otlp_requests} / ${l.otlp_bytes}`);
  row(`10x: replay of ${r.processes} processes x ${r.snapshots} snapshots, fast pace, OTLP on`, '');
  row('  CPU per interval: pipeline + export + store', `${r.cpu_ms_per_interval.toFixed(1)} ms`);
  row(`    share of one core at ${o.interval} s`, pct(r.replay_share));
  row('    of which reading the recording (measured apart)', `${r.recording_read_ms_per_interval.toFixed(1)} ms`);
  row(`  procfs read at ${r.processes} (live per-process read_ms)`, `${r.read_ms_estimate.toFixed(1)} ms = ${pct(r.read_share)}`);
  row('  total: replay + read', pct(r.total_share), `< 1%    ${verdict(targets.ten_x_cpu)}`);
  row('  total without reading the recording', pct(r.total_share_without_recording_read));
  row('  peak RSS (VmHWM)', mb(r.peak_rss_bytes), `< 100 MB ${verdict(targets.ten_x_peak_rss)}`);
  row('  OTLP requests / bytes received', `${r.otlp_requests} / ${r.otlp_bytes}`);
  row('reference RSS: node alone / node + agent modules', `${mb(reference.node)} / ${mb(reference.node_agent_modules)}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, kernel ${machine.kernel}, node ${machine.node}, CLK_TCK ${clockTicks}` +
    `${machine.agent_node_options ? `, agent NODE_OPTIONS=${machine.agent_node_options}` : ''}; ${result.seconds} s\n`);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const figureWidth = Math.max(...rows.map(([, figure]) => figure.length)) + 2;
  for (const [label, figure, target] of rows) console.log(`${label.padEnd(width)}${figure.padEnd(figureWidth)}${target}`.trimEnd());
  for (const [what, problems] of [['live', l.problems], ['replay', r.problems]] as const) {
    if (problems.length) console.log(`\n${what}: the agent logged ${problems.length} warnings/errors, first: ${problems.slice(0, 3).join(' | ')}`);
  }
  if (l.skipped_ticks) console.log(`live: the agent skipped ticks ${l.skipped_ticks} times`);
  console.log(`\nwritten to ${join(OUT, 'agent.json')}`);
}

try {
  await main();
} catch (err) {
  if (!isStopping()) process.stderr.write(`benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  if (!process.argv.includes('--receiver')) {
    await killEverything();
    removeScratch();
  }
}
