/**
 * The agent daemon's overhead, measured from outside as users run it:
 * `node dist/bench/agent.js [--duration SECONDS] [--interval SECONDS] [--procs N]
 *   [--replay-processes N] [--replay-snapshots N] [--replay-pace fast|recorded] [--shadows on|off] [--node-flags=FLAGS] [--json]`.
 *
 * 1. Live: N idle processes (default 1000), then the real `bin/nrdot-plus --interval 10` with OTLP
 *    export on to a loopback receiver in another process, for --duration seconds after its first
 *    interval. Its CPU share of one core (utime + stime from /proc/PID/stat, all threads), its peak
 *    resident memory (VmHWM) and its own per-interval KPIs (agent_cpu_percent, agent_rss_bytes).
 * 2. Ten times the volume: a synthetic recording of ~10,000 processes replayed as fast as possible
 *    (`--replay FILE --replay-pace fast`; with `--replay-pace recorded` it takes snapshots x
 *    interval), OTLP on: CPU per interval of pipeline, export and state store, plus this host's
 *    procfs read cost per process times the processes, as a share of one core at the interval;
 *    peak resident memory.
 * The agent runs with the embedded defaults, shadow profiles included (`--shadows off`: a
 * configuration file with `advanced.shadow_profiles: []`, for comparison).
 * Prints a summary with the targets beside the figures and writes it to bench/out/agent.json.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, agentEnv, hasSetpriv, Hub, memory, Receiver, sample, type LogLine, type Sample } from './agent-process.js';
import { readCostMs, replayRecording } from './agent-recording.js';
import { cleanUpOnExit, isLive, isStopping, killAndWait, killEverything, removeScratch, scratchDir, sleep, track } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = resolve(HERE, '../..');
const OUT = join(REPO, 'bench/out'); // gitignored
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
  replayPace: 'fast' | 'recorded';
  /** The shadow profiles on (the defaults) or off. */
  shadows: boolean;
  /** Extra node flags for the agent (and the reference processes), e.g. V8's memory flags. */
  nodeFlags: string[];
  /** The agent joins a fleet hub started by the benchmark (OpAMP polling, own metrics every interval). */
  hub: boolean;
  json: boolean;
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

/** A data directory of its own; with shadows off, a configuration file in it that says so (the default location). */
function agentDataDir(o: Options, kind: string): string {
  const dir = scratchDir(mkdtempSync(join(os.tmpdir(), `nrdot-bench-agent-${kind}-`)));
  if (!o.shadows) writeFileSync(join(dir, 'optimization.yaml'), 'advanced: { shadow_profiles: [] }\n');
  return dir;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
const nums = (lines: LogLine[], key: string): number[] => lines.map((l) => l[key]).filter((v): v is number => typeof v === 'number');

interface Ctx {
  o: Options;
  clockTicks: number;
  receiver: Receiver;
  /** NRDOT_OPAMP_ENDPOINT of the hub, with --hub. */
  opamp: string | null;
}

async function runLive(ctx: Ctx) {
  const { o, clockTicks } = ctx;
  const dataDir = agentDataDir(o, 'live');
  const before = await ctx.receiver.stats();
  const agent = Agent.start(['--interval', String(o.interval)], agentEnv(dataDir, ctx.receiver.endpoint, ctx.opamp), o.nodeFlags);
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
      peak_rss_bytes_after_first_interval: first.hwm,
      end_rss_bytes: mem.rss,
      max_sampled_rss_bytes: max(agent.intervals.map((i) => i.sample.rss)),
      /** VmRSS at every interval line, the first included: does it settle or keep growing? */
      rss_by_interval_bytes: agent.intervals.map((i) => i.sample.rss),
      kpi_agent_cpu_percent: { mean: mean(nums(window, 'agent_cpu_percent')), max: max(nums(window, 'agent_cpu_percent')) },
      kpi_agent_rss_bytes: { mean: mean(nums(window, 'agent_rss_bytes')), max: max(nums(window, 'agent_rss_bytes')) },
      processes: { mean: mean(processes), min: Math.min(...processes), max: max(processes) },
      read_ms: { mean: mean(readMs), max: max(readMs) },
      read_ms_per_process: mean(readMs) / mean(processes),
      /** The agent's own figure: CPU of the shadow profiles' runs per interval (null when they are off). */
      shadow_cpu_ms: { mean: mean(nums(window, 'shadow_cpu_ms')), max: max(nums(window, 'shadow_cpu_ms')) },
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
  const dataDir = agentDataDir(o, 'replay');
  const before = await ctx.receiver.stats();
  const args = ['--interval', String(o.interval), '--replay', rec.path, '--replay-pace', o.replayPace];
  const agent = Agent.start(args, agentEnv(dataDir, ctx.receiver.endpoint, ctx.opamp), o.nodeFlags);
  try {
    await agent.waitFor(() => agent.intervals.length >= 1, 120_000, 'the first replayed interval');
    const finished = await agent.waitFor(() => agent.finished, 300_000 + (o.replayPace === 'recorded' ? rec.snapshots * o.interval * 1000 : 0), 'replay finished');
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
      peak_rss_bytes_after_first_interval: first.hwm,
      end_rss_bytes: mem.rss,
      kpi_agent_rss_bytes_max: max(nums(window, 'agent_rss_bytes')),
      shadow_cpu_ms: { mean: mean(nums(window, 'shadow_cpu_ms')), max: max(nums(window, 'shadow_cpu_ms')) },
      otlp_requests: received.requests - before.requests,
      otlp_bytes: received.bytes - before.bytes,
      problems: agent.problems(),
    };
  } finally {
    await agent.stop();
  }
}

/** Resident memory of node alone and of node with the agent's modules loaded (imported, not run). */
async function referenceRss(nodeFlags: string[]): Promise<{ node: number; node_agent_modules: number }> {
  const script =
    "const u=process.argv[1];(u?import(u):Promise.resolve()).then(()=>setTimeout(()=>process.stdout.write(String(process.memoryUsage.rss())),500))";
  const rss = async (url: string | null): Promise<number> => {
    const child = track(spawn(process.execPath, [...nodeFlags, '-e', script, ...(url ? [url] : [])], { stdio: ['ignore', 'pipe', 'inherit'] }), 'node -e');
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
const shadowMs = (s: { mean: number; max: number }): string => (Number.isNaN(s.mean) ? 'off' : `${s.mean.toFixed(1)} ms / ${s.max.toFixed(1)} ms`);

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`${flag} must be a positive integer, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

const OPTIONS = {
  duration: { type: 'string' },
  interval: { type: 'string' },
  procs: { type: 'string' },
  'replay-processes': { type: 'string' },
  'replay-snapshots': { type: 'string' },
  'replay-pace': { type: 'string', default: 'fast' },
  shadows: { type: 'string', default: 'on' },
  'node-flags': { type: 'string' },
  hub: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function parseFlags(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'] {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}

function onOff(value: string, flag: string): boolean {
  if (value === 'on' || value === 'off') return value === 'on';
  process.stderr.write(`${flag} must be on or off, got ${value}\n`);
  process.exit(2);
}

function pace(value: string): 'fast' | 'recorded' {
  if (value === 'fast' || value === 'recorded') return value;
  process.stderr.write(`--replay-pace must be fast or recorded, got ${value}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const values = parseFlags();
  const o: Options = {
    duration: positive(values.duration, 300, '--duration'),
    interval: positive(values.interval, 10, '--interval'),
    procs: positive(values.procs, 1000, '--procs'),
    replayProcesses: positive(values['replay-processes'], 10_000, '--replay-processes'),
    replaySnapshots: Math.max(2, positive(values['replay-snapshots'], 31, '--replay-snapshots')),
    replayPace: pace(values['replay-pace']),
    shadows: onOff(values.shadows, '--shadows'),
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== ''),
    hub: values.hub,
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
    /** Other load on the host disturbs the figures: the 1-minute load average at the start and the end. */
    load_average: [round(os.loadavg()[0]!, 2)],
    /** Whether the agent was a member of a fleet hub (OpAMP polling and own metrics to it). */
    fleet_hub: o.hub,
    agent_node_flags: [...o.nodeFlags, ...(process.env.NODE_OPTIONS ? [`NODE_OPTIONS=${process.env.NODE_OPTIONS}`] : [])].join(' '),
  };
  mkdirSync(OUT, { recursive: true });
  const reference = await referenceRss(o.nodeFlags);
  const receiver = await Receiver.start();
  const hub = o.hub ? await Hub.start(scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-hub-')))) : null;
  const ctx: Ctx = { o, clockTicks, receiver, opamp: hub?.endpoint ?? null };

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
    params: { duration_s: o.duration, interval_s: o.interval, idle_processes: o.procs, replay_processes: o.replayProcesses, replay_snapshots: o.replaySnapshots, replay_pace: o.replayPace, shadows: o.shadows },
    seconds: Math.round((Date.now() - started) / 1000),
    reference_rss_bytes: reference,
    live,
    reader: { ...reader, ms_per_process: reader.cpu_ms_per_scrape / reader.processes },
    replay,
    targets: { cpu_share: TARGET_CPU_SHARE, rss_bytes: TARGET_RSS_BYTES, ...targets },
  };
  machine.load_average.push(round(os.loadavg()[0]!, 2));
  writeFileSync(join(OUT, 'agent.json'), JSON.stringify(result, null, 2) + '\n');
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const rows: Array<[string, string, string]> = [];
  const row = (label: string, figure: string, target = ''): number => rows.push([label, figure, target]);
  const l = live;
  const r = replay;
  row(`live: ${Math.round(l.processes.mean)} processes (${o.procs} idle), ${l.intervals} intervals of ${o.interval} s, ${l.window_s} s, shadow profiles ${o.shadows ? 'on' : 'off'}`, '');
  row('  CPU, share of one core (/proc stat)', pct(l.cpu_share), `< 1%    ${verdict(targets.live_cpu)}`);
  row('  peak RSS (VmHWM)', mb(l.peak_rss_bytes), `< 100 MB ${verdict(targets.live_peak_rss)}`);
  row('    of which reached by the end of the first interval', mb(l.peak_rss_bytes_after_first_interval));
  row('  RSS at the end (VmRSS)', mb(l.end_rss_bytes));
  row('  agent_cpu_percent (own KPI) mean / max', `${l.kpi_agent_cpu_percent.mean.toFixed(3)}% / ${l.kpi_agent_cpu_percent.max.toFixed(2)}%`);
  row('  agent_rss_bytes (own KPI) mean / max', `${mb(l.kpi_agent_rss_bytes.mean)} / ${mb(l.kpi_agent_rss_bytes.max)}`);
  row('  processes per interval mean (min-max)', `${Math.round(l.processes.mean)} (${l.processes.min}-${l.processes.max})`);
  row('  read_ms mean (max); per process', `${l.read_ms.mean.toFixed(1)} ms (${l.read_ms.max.toFixed(1)}); ${(l.read_ms_per_process * 1000).toFixed(2)} us`);
  row('  shadow profiles (own figure, shadow_cpu_ms) mean / max', shadowMs(l.shadow_cpu_ms));
  row('  reader alone (procfs-worker), CPU per process', `${((reader.cpu_ms_per_scrape / reader.processes) * 1000).toFixed(2)} us`);
  row('  OTLP requests / bytes received', `${l.otlp_requests} / ${l.otlp_bytes}`);
  row(`10x: replay of ${r.processes} processes x ${r.snapshots} snapshots, ${o.replayPace} pace, OTLP on`, '');
  row('  CPU per interval: pipeline + export + store', `${r.cpu_ms_per_interval.toFixed(1)} ms`);
  row(`    share of one core at ${o.interval} s`, pct(r.replay_share));
  row('    of which shadow profiles (own figure) mean / max', shadowMs(r.shadow_cpu_ms));
  row('    of which reading the recording (measured apart)', `${r.recording_read_ms_per_interval.toFixed(1)} ms`);
  row(`  procfs read at ${r.processes} (live per-process read_ms)`, `${r.read_ms_estimate.toFixed(1)} ms = ${pct(r.read_share)}`);
  row('  total: replay + read', pct(r.total_share), `< 1%    ${verdict(targets.ten_x_cpu)}`);
  row('  total without reading the recording', pct(r.total_share_without_recording_read));
  row('  peak RSS (VmHWM)', mb(r.peak_rss_bytes), `< 100 MB ${verdict(targets.ten_x_peak_rss)}`);
  row('    after the first interval; RSS at the end', `${mb(r.peak_rss_bytes_after_first_interval)}; ${mb(r.end_rss_bytes)}`);
  row('  OTLP requests / bytes received', `${r.otlp_requests} / ${r.otlp_bytes}`);
  row('reference RSS: node alone / node + agent modules', `${mb(reference.node)} / ${mb(reference.node_agent_modules)}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, kernel ${machine.kernel}, node ${machine.node}, CLK_TCK ${clockTicks}, load average ${machine.load_average.join(' -> ')}` +
    `${machine.agent_node_flags ? `; agent's node flags: ${machine.agent_node_flags}` : ''}${machine.fleet_hub ? '; the agent in a fleet hub (--hub)' : ''}; ${result.seconds} s\n`);
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
  await killEverything();
  removeScratch();
}
