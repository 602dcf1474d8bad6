/**
 * The procfs receiver benchmark:
 * `node dist/bench/procfs.js [--procs N] [--scrapes S] [--rounds R] [--warmup W] [--json]`.
 *
 * Spawns N idle processes and measures, side by side on the same host, the CPU one steady-state
 * scrape costs: a minimal C program reading the same files (open/read/close, and with held
 * descriptors), our reader, and prometheus-process-exporter. Then it replaces a tenth of the idle
 * processes with ones holding 1000 open files each, since counting fds can grow with them, and
 * measures again. Every process it starts is killed by pid, on success, error and SIGINT/SIGTERM;
 * the idle processes and the exporter also carry a parent-death SIGKILL for a benchmark that dies
 * without any cleanup.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanUpOnExit, isLive, isStopping, killAndWait, killEverything, sleep, track } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = resolve(HERE, '../..');
const OUT = join(REPO, 'bench/out'); // gitignored
const EXPORTER = '/usr/bin/prometheus-process-exporter';
const SETPRIV = '/usr/bin/setpriv';
const HEAVY_FDS = 1000;
const TOOLS = ['c', 'c-held', 'nrdot-plus', 'process-exporter'] as const;
type Tool = (typeof TOOLS)[number];

interface Measurement {
  tool: Tool;
  processes: number;
  scrapes: number;
  cpu_us_per_scrape: number;
  wall_us_per_scrape: number;
  /** Descriptors the measuring process had open afterwards: shows whether files were held. */
  open_fds: number | null;
}

interface CaseResult {
  name: string;
  description: string;
  runs: Record<Tool, Measurement[]>;
  medians: Partial<Record<Tool, Measurement>>;
  ratios: Partial<Record<Tool, { vs_c: number | null; vs_c_held: number | null; vs_exporter: number | null }>>;
  targets: { nrdot_vs_c: Target; nrdot_vs_exporter: Target };
}

type Target = { limit: number; ratio: number | null; pass: boolean | null };

// Every child process we start is registered until it exits, and killed by pid (bench/children.ts).
cleanUpOnExit();

/** Runs a program to completion (registered, so cleanup can kill it) and returns its stdout. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }), cmd);
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('close', (code) => {
      if (code === 0) done(out);
      else fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim()}`));
    });
  });
}

// ---- The idle processes.

function buildC(): { scrape: string; idle: string } {
  mkdirSync(OUT, { recursive: true });
  const bins = { scrape: join(OUT, 'scrape'), idle: join(OUT, 'idle') };
  for (const [name, bin] of Object.entries(bins)) {
    // Diagnostics to stderr: stdout may be carrying --json.
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(REPO, 'bench/c', `${name}.c`)], { stdio: ['ignore', 2, 2] });
  }
  return bins;
}

/** Starts `count` idle processes holding `fds` extra descriptors; resolves once all are paused. */
async function spawnIdle(bin: string, count: number, fds: number): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    children.push(track(spawn(bin, [String(fds), String(process.pid)], { stdio: 'ignore' }), bin));
  }
  // Ready means exec'd, every descriptor open and asleep in pause(): nothing left to change
  // under the scrapers. Polling /proc costs us a little CPU, but nothing is being measured yet.
  const pending = new Set(children.map((c) => c.pid as number));
  for (const deadline = Date.now() + 60_000; pending.size > 0; await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`${pending.size} idle processes not ready after 60 s`);
    for (const pid of pending) {
      if (!isLive(pid)) throw new Error(`idle process ${pid} exited early`);
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      } catch {
        continue;
      }
      if (!stat.includes('(idle) S')) continue;
      if (fds > 0 && readdirSync(`/proc/${pid}/fd`).length < fds) continue;
      pending.delete(pid);
    }
  }
  return children;
}

// ---- The four tools.

const NUMBERS = ['processes', 'scrapes', 'cpu_us_per_scrape', 'wall_us_per_scrape', 'open_fds'] as const;

/** The JSON line the C program and the worker print, checked. */
function parseMeasurement(tool: Tool, stdout: string): Measurement {
  const line = stdout.trim().split('\n').pop() ?? '';
  const j = JSON.parse(line) as Record<string, unknown>;
  for (const key of NUMBERS) {
    if (typeof j[key] !== 'number') throw new Error(`${tool}: no number ${key} in ${line}`);
  }
  return { ...(j as Omit<Measurement, 'tool'>), tool };
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text(); // consume the body: rendering it is part of the exporter's cost
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return body;
}

/** utime + stime of a whole process (all threads), in clock ticks: /proc/PID/stat fields 14, 15. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Kernel threads have an empty cmdline, so the packaged config (`cmdline: ['.+']`) skips them;
 * `.*` matches every process, and the group name is its comm.
 */
const EXPORTER_CONFIG = `process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n      - '.*'\n`;

async function runExporter(s: Setup): Promise<Measurement> {
  const { scrapes, configPath, clockTicks } = s;
  const port = await freePort();
  const args = ['-config.path', configPath, '-threads=false', '-gather-smaps=false'];
  args.push('-web.listen-address', `127.0.0.1:${port}`);
  // setpriv execs the exporter (same pid) with a parent-death SIGKILL, as idle.c sets for itself.
  const [cmd, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', EXPORTER, ...args]]
    : [EXPORTER, args];
  const child = track(spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] }), EXPORTER);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const pid = child.pid as number;
  const base = `http://127.0.0.1:${port}`;
  try {
    // Up when the landing page answers (it does not scrape); give it 10 s.
    for (let tries = 0; !(await get(`${base}/`).then(() => true, () => false)); tries++) {
      if (!isLive(pid) || tries > 200) throw new Error(`process-exporter not answering: ${stderr.trim()}`);
      await sleep(50);
    }
    for (let i = 0; i < s.warmup; i++) await get(`${base}/metrics`); // warm-up, like the others
    const cpu0 = cpuTicks(pid);
    const wall0 = performance.now();
    let body = '';
    for (let i = 0; i < scrapes; i++) body = await get(`${base}/metrics`);
    const wallUs = (performance.now() - wall0) * 1000;
    const cpuUs = ((cpuTicks(pid) - cpu0) * 1e6) / clockTicks;
    let processes = 0;
    for (const m of body.matchAll(/^namedprocess_namegroup_num_procs\{[^}]*\} (\S+)$/gm)) processes += Number(m[1]);
    return {
      tool: 'process-exporter',
      processes,
      scrapes,
      cpu_us_per_scrape: Math.round((cpuUs / scrapes) * 10) / 10,
      wall_us_per_scrape: Math.round((wallUs / scrapes) * 10) / 10,
      open_fds: readdirSync(`/proc/${pid}/fd`).length,
    };
  } finally {
    await killAndWait([child]);
  }
}

interface Setup {
  bins: { scrape: string; idle: string };
  scrapes: number;
  rounds: number;
  warmup: number;
  exporter: boolean;
  configPath: string;
  clockTicks: number;
}

async function runTool(tool: Tool, s: Setup): Promise<Measurement | null> {
  const args = ['/proc', String(s.scrapes), String(s.warmup)];
  switch (tool) {
    case 'c':
      return parseMeasurement(tool, await run(s.bins.scrape, args));
    case 'c-held':
      return parseMeasurement(tool, await run(s.bins.scrape, ['--held', ...args]));
    case 'nrdot-plus':
      return parseMeasurement(tool, await run(process.execPath, [join(HERE, 'procfs-worker.js'), ...args]));
    case 'process-exporter':
      return s.exporter ? runExporter(s) : null;
  }
}

// ---- Rounds, medians, report.

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function runCase(name: string, description: string, s: Setup): Promise<CaseResult> {
  const runs: Record<Tool, Measurement[]> = { c: [], 'c-held': [], 'nrdot-plus': [], 'process-exporter': [] };
  for (let r = 0; r < s.rounds; r++) {
    // Each round starts with a different tool, so none is always first (or last) after a spawn.
    for (let i = 0; i < TOOLS.length; i++) {
      const tool = TOOLS[(r + i) % TOOLS.length]!;
      const m = await runTool(tool, s);
      if (!m) continue;
      runs[tool].push(m);
      const ms = (m.cpu_us_per_scrape / 1000).toFixed(2);
      process.stderr.write(`  ${name} round ${r + 1}/${s.rounds}: ${tool} ${ms} ms CPU/scrape, ${m.processes} procs\n`);
    }
  }
  const medians: CaseResult['medians'] = {};
  for (const tool of TOOLS) {
    const ms = runs[tool];
    const med = (key: (typeof NUMBERS)[number]): number => median(ms.map((m) => m[key] ?? 0));
    if (ms.length > 0) {
      medians[tool] = {
        tool,
        processes: med('processes'),
        scrapes: med('scrapes'),
        cpu_us_per_scrape: med('cpu_us_per_scrape'),
        wall_us_per_scrape: med('wall_us_per_scrape'),
        open_fds: med('open_fds'),
      };
    }
  }
  const cpu = (tool: Tool): number | undefined => medians[tool]?.cpu_us_per_scrape;
  const ratio = (a: number | undefined, b: number | undefined): number | null =>
    a !== undefined && b !== undefined && b > 0 ? a / b : null;
  const ratios: CaseResult['ratios'] = {};
  for (const tool of TOOLS) {
    if (cpu(tool) === undefined) continue;
    ratios[tool] = {
      vs_c: ratio(cpu(tool), cpu('c')),
      vs_c_held: ratio(cpu(tool), cpu('c-held')),
      vs_exporter: ratio(cpu(tool), cpu('process-exporter')),
    };
  }
  const target = (limit: number, r: number | null): Target => ({ limit, ratio: r, pass: r === null ? null : r <= limit });
  const nrdot = ratios['nrdot-plus'];
  const targets = {
    nrdot_vs_c: target(1.3, nrdot?.vs_c ?? null),
    nrdot_vs_exporter: target(0.25, nrdot?.vs_exporter ?? null),
  };
  return { name, description, runs, medians, ratios, targets };
}

function printCase(c: CaseResult): void {
  const fmt = (x: number | null | undefined, digits = 2): string => (x == null ? '-' : x.toFixed(digits));
  const cols = ['tool', 'procs', 'CPU ms/scrape', 'wall ms/scrape', 'own fds', 'vs c', 'vs c-held', 'vs exporter'];
  const rows = [cols];
  for (const tool of TOOLS) {
    const m = c.medians[tool];
    const r = c.ratios[tool];
    if (!m) rows.push([tool, 'not run', '', '', '', '', '', '']);
    else {
      const ms = (us: number): string => fmt(us / 1000, 3);
      const [cpu, wall] = [ms(m.cpu_us_per_scrape), ms(m.wall_us_per_scrape)];
      rows.push([tool, String(m.processes), cpu, wall, String(m.open_fds), fmt(r?.vs_c), fmt(r?.vs_c_held), fmt(r?.vs_exporter)]);
    }
  }
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log(`\n${c.name}: ${c.description}`);
  const pad = (cell: string, i: number): string => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!));
  for (const row of rows) console.log('  ' + row.map(pad).join('  '));
  const verdict = (t: Target): string => (t.pass === null ? 'n/a' : `${fmt(t.ratio)} -> ${t.pass ? 'PASS' : 'FAIL'}`);
  console.log(`  target: nrdot-plus <= 1.3 x c (open/read/close):  ${verdict(c.targets.nrdot_vs_c)}`);
  console.log(`  target: nrdot-plus <= 0.25 x process-exporter:   ${verdict(c.targets.nrdot_vs_exporter)}`);
  console.log(`  (informational) nrdot-plus vs c-held: ${fmt(c.ratios['nrdot-plus']?.vs_c_held)}`);
}

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      procs: { type: 'string' },
      scrapes: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const procs = positive(values.procs, 1000, '--procs');
  const started = Date.now();
  const exporter = existsSync(EXPORTER);
  const setup: Setup = {
    bins: buildC(),
    scrapes: positive(values.scrapes, 50, '--scrapes'),
    rounds: positive(values.rounds, 3, '--rounds'),
    // Steady state: past first sight of the processes and, for our reader, past V8's tier-up.
    warmup: positive(values.warmup, 10, '--warmup'),
    exporter,
    configPath: join(OUT, 'process-exporter.yaml'),
    clockTicks: Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()),
  };
  writeFileSync(setup.configPath, EXPORTER_CONFIG);
  const limits = readFileSync('/proc/self/limits', 'latin1');
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    nproc: os.availableParallelism(),
    kernel: os.release(),
    node: process.version,
    open_files_soft_limit: /^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? 'unknown',
    exporter: exporter ? execFileSync(EXPORTER, ['-version'], { encoding: 'utf8' }).split('\n')[0]!.trim() : 'not installed',
  };
  if (!exporter) process.stderr.write('process-exporter not installed: apt-get install prometheus-process-exporter\n');

  const cases: CaseResult[] = [];
  const heavy = Math.max(1, Math.round(procs / 10));
  process.stderr.write(`spawning ${procs} idle processes\n`);
  const idle = await spawnIdle(setup.bins.idle, procs, 0);
  cases.push(await runCase('A', `${procs} idle processes, no extra open files`, setup));
  // Case B: replace a tenth with processes holding HEAVY_FDS descriptors each (same total count).
  process.stderr.write(`replacing ${heavy} of them with processes holding ${HEAVY_FDS} open files\n`);
  await killAndWait(idle.splice(0, heavy));
  idle.push(...(await spawnIdle(setup.bins.idle, heavy, HEAVY_FDS)));
  cases.push(await runCase('B', `${procs} idle processes, ${heavy} of them with ${HEAVY_FDS} open files each`, setup));
  await killEverything();

  const params = { procs, scrapes: setup.scrapes, rounds: setup.rounds, warmup: setup.warmup };
  const seconds = Math.round((Date.now() - started) / 1000);
  if (values.json) {
    console.log(JSON.stringify({ machine, params, seconds, cases }, null, 2));
    return;
  }
  console.log(`machine: ${machine.cpu}, nproc ${machine.nproc}, kernel ${machine.kernel}, node ${machine.node}`);
  console.log(`open files soft limit ${machine.open_files_soft_limit}; exporter: ${machine.exporter}`);
  console.log(
    `N=${procs} processes, S=${setup.scrapes} measured scrapes per run after W=${setup.warmup} unmeasured, ` +
      `R=${setup.rounds} rounds; medians over rounds; ${seconds} s`,
  );
  if (!exporter) console.log('process-exporter not installed: apt-get install prometheus-process-exporter');
  for (const c of cases) printCase(c);
}

try {
  await main();
} catch (err) {
  // While stopping on a signal, failures of the killed children are expected: say nothing.
  if (!isStopping()) process.stderr.write(`benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  // Every idle process, worker and exporter still alive: killed by pid, and waited for.
  await killEverything();
}
