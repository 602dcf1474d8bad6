/**
 * Synthetic hosts (`nrdot-plus-ctl synth`): a pure, seed-deterministic simulation of a realistic Linux
 * host that yields `nrdot.snapshot/v1` snapshots, with injected anomalies and their ground truth.
 *
 * This file is the engine: random numbers, the process table, pid allocation, per-interval dynamics
 * (cumulative counters, wandering gauges, churn, zombies), the anomaly plan and the ground truth.
 * The hosts themselves (which processes, with which names, command lines and usage) are described in
 * synth-archetypes.ts, which only talks to the engine through the HostBuilder and Tick interfaces.
 */
import { SNAPSHOT_SCHEMA, type HostInfo, type ProcessSample, type Snapshot } from './types.js';
import { ARCHETYPE_DEFS, ARCHETYPES, type Archetype } from './synth-archetypes.js';
import {
  ANOMALY_KINDS,
  Random,
  type Factory,
  type GroundTruth,
  type HostBuilder,
  type ProcHandle,
  type SpawnOptions,
  type SynthOptions,
  type Template,
  type Tick,
  type TruthAnomaly,
  type Role,
  type AnomalyKind,
} from './synth-model.js';

export { ARCHETYPES, ARCHETYPE_DEFS, type Archetype };
export * from './synth-model.js';

export const SYNTH_DEFAULTS = { intervalSeconds: 60, seed: 1, start: 1764115200 } as const;
/** Snapshots of history every anomaly has before it starts (the detector's warm-up). */
export const ANOMALY_HISTORY = 8;

const round2 = (x: number): number => Math.round(x * 100) / 100;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const PAGE = 4096;
const pages = (x: number): number => Math.max(0, Math.floor(x / PAGE) * PAGE);

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Daily load: 0.4 at 02:00 UTC, 1.6 at 14:00 UTC (a sinusoid of the time of day). */
export function dailyFactor(t: number): number {
  const hour = (((t / 3600) % 24) + 24) % 24;
  return 1 + 0.6 * Math.sin((2 * Math.PI * (hour - 8)) / 24);
}

/** Snapshots an anomaly lasts: 3 intervals or 180 s, whichever is longer, but at most 240 s unless that is under 3 intervals. */
export function anomalyIntervals(intervalSeconds: number): number {
  const d = Math.max(3, Math.ceil(180 / intervalSeconds));
  return d * intervalSeconds > 240 ? Math.max(3, Math.floor(240 / intervalSeconds)) : d;
}

/** The ground-truth file beside a recording: its .ndjson/.ndjson.gz/.gz extension replaced by .truth.json. */
export function truthPath(recording: string): string {
  const base = recording.replace(/(\.ndjson\.gz|\.ndjson|\.gz)$/, '');
  return `${base}.truth.json`;
}

interface Planned {
  kind: AnomalyKind;
  /** Snapshot indexes, inclusive. */
  from: number;
  to: number;
  level: number;
  leakSteps: number[];
  truth: TruthAnomaly;
}

class Proc implements ProcHandle {
  pid = 0;
  t: Template | null = null;
  anomaly: Planned | null = null;
  zombie = false;
  cpuU = 0;
  cpuS = 0;
  ioR = 0;
  ioW = 0;
  minf = 0;
  majf = 0;
  vol = 0;
  invol = 0;
  rssBase = 0;
  rssDev = 0;
  vmsBase = 0;
  threads = 1;
  fds = 0;
  state = 'S';

  constructor(
    readonly make: Factory,
    readonly parent: Proc | null,
    readonly ppid: number,
    readonly start: number,
    public end: number,
    readonly zombieUntil: number,
    readonly lifetime: number,
  ) {}
}

function short(cmdline: string, name: string): string {
  const s = cmdline === '' ? name : cmdline;
  return s.length > 72 ? `${s.slice(0, 69)}...` : s;
}

const pct = (cores: number): string => `${(cores * 100).toFixed(cores < 0.1 ? 1 : 0)}%`;

/**
 * One simulated host. Iterate snapshots() once; truth() is complete when it has run to its end.
 * Everything derives from the archetype and the seed, so the same options give the same snapshots.
 */
export class SyntheticHost {
  readonly host: HostInfo;
  private readonly rng: Random;
  private readonly interval: number;
  private readonly intervals: number;
  private readonly start: number;
  private readonly seed: number;
  private readonly archetype: Archetype;
  private readonly warmup: number;
  private readonly jitterSeed: number;
  private readonly forkRate: number;
  private procs: Proc[] = [];
  private pending: Proc[] = [];
  private readonly ticks: ((tick: Tick) => void)[] = [];
  private readonly plans: Planned[] = [];
  private runawayMake: { make: Factory; parent: Proc } | null = null;
  private lastPid = 2;
  private lastPidTime: number;
  private started = false;
  private finished = false;

  constructor(options: SynthOptions) {
    const { archetype, intervals } = options;
    const interval = options.intervalSeconds ?? SYNTH_DEFAULTS.intervalSeconds;
    const seed = options.seed ?? SYNTH_DEFAULTS.seed;
    const start = options.start ?? SYNTH_DEFAULTS.start;
    const def = ARCHETYPE_DEFS[archetype];
    if (!def) throw new RangeError(`unknown archetype "${String(archetype)}" (archetypes: ${ARCHETYPES.join(', ')})`);
    if (!Number.isSafeInteger(intervals) || intervals < 1) throw new RangeError('intervals must be a whole number, 1 or more');
    if (!Number.isFinite(interval) || interval < 1) throw new RangeError('intervalSeconds must be 1 or more');
    if (!Number.isSafeInteger(seed)) throw new RangeError('seed must be a whole number');
    if (!Number.isFinite(start) || start < 0) throw new RangeError('start must be unix seconds');
    this.archetype = archetype;
    this.intervals = intervals;
    this.interval = interval;
    this.seed = seed;
    this.start = start;
    this.rng = new Random(`nrdot-synth:${archetype}:${seed}`);
    this.jitterSeed = mix32(seed ^ 0x5bd1e995);
    this.forkRate = def.forkRate;
    this.warmup = Math.min(900, Math.max(2, Math.ceil(900 / interval)));
    const rng = this.rng;
    const boot = Math.floor(start - rng.uniform(def.uptimeHours[0], def.uptimeHours[1]) * 3600);
    this.lastPidTime = boot;
    const id = `${archetype}-${seed}`;
    this.host = { id, name: id, cpus: def.cpus, memory_bytes: def.memoryGiB * 1024 ** 3, boot_time: boot };
    const now = this.time(-this.warmup);
    const roles = new Map<Role, Proc>();
    const initial: { p: Proc; fixed: number | undefined }[] = [];
    const builder: HostBuilder = {
      rng,
      boot,
      now,
      interval,
      cpus: def.cpus,
      hostName: id,
      proc: (make, o) => {
        const p = new Proc(make, (o.parent as Proc | null | undefined) ?? null, o.ppid ?? 1, round2(Math.max(boot, Math.min(o.start, now - 0.01))), Infinity, 0, o.lifetime ?? Infinity);
        this.materialize(p);
        initial.push({ p, fixed: o.pid });
        if (o.role !== undefined && !roles.has(o.role)) roles.set(o.role, p);
        return p;
      },
      onTick: (fn) => {
        this.ticks.push(fn);
      },
      runaway: (make, parent) => {
        this.runawayMake = { make, parent: parent as Proc };
      },
    };
    def.build(builder);
    // Pids in order of start time (the kernel hands them out increasingly), 1 and 2 fixed.
    const sorted = initial.filter((e) => e.fixed === undefined).sort((x, y) => x.p.start - y.p.start);
    for (const e of initial) if (e.fixed !== undefined) e.p.pid = e.fixed;
    for (const e of sorted) e.p.pid = this.allocate(e.p.start);
    this.procs = initial.map((e) => e.p).sort((x, y) => x.pid - y.pid);
    for (const p of this.procs) this.initCounters(p, now - p.start);
    this.plan(roles);
  }

  /** Nominal time of snapshot i (negative: warm-up), with a small read jitter for the recorded ones. */
  private time(i: number): number {
    if (i < 0) return this.start + i * this.interval;
    const jitter = 0.002 + (mix32(this.jitterSeed ^ mix32(i + 1)) % 40) / 1000;
    return round3(this.start + i * this.interval + jitter);
  }

  private allocate(at: number): number {
    const rate = at - this.host.boot_time < 60 ? 20 : this.forkRate;
    const gap = Math.floor(Math.max(0, at - this.lastPidTime) * rate * this.rng.uniform(0.5, 1.5));
    this.lastPid += 1 + gap;
    this.lastPidTime = Math.max(this.lastPidTime, at);
    return this.lastPid;
  }

  private materialize(p: Proc): Template {
    const t = p.make(this.rng);
    p.t = t;
    p.rssBase = t.kernel ? 0 : t.rss;
    p.vmsBase = t.kernel ? 0 : t.vms;
    p.threads = t.threads;
    p.fds = t.fds;
    p.state = t.idleState ?? 'S';
    return t;
  }

  /** Counters of a process that has been running for `age` seconds when the simulation begins. */
  private initCounters(p: Proc, age: number): void {
    const t = p.t as Template;
    const rng = this.rng;
    const cpu = t.cpu * age * rng.uniform(0.5, 1);
    const us = t.userShare ?? 0.8;
    p.cpuU = cpu * us;
    p.cpuS = cpu * (1 - us);
    p.vol = (t.ctx ?? 1) * age * rng.uniform(0.6, 1);
    p.invol = cpu * 20 + p.vol * 0.02;
    if (t.kernel) return;
    p.ioR = (t.ioRead ?? 0) * age * rng.uniform(0.5, 1);
    p.ioW = (t.ioWrite ?? 0) * age * rng.uniform(0.5, 1);
    p.minf = t.rss / PAGE + ((t.faults ?? 1) * age + cpu * 50) * rng.uniform(0.5, 1);
    p.majf = 20 + p.minf * 0.0005;
  }

  /** Picks the anomalies that fit, spreads them over the recording, and writes their ground truth. */
  private plan(roles: Map<Role, Proc>): void {
    const rng = this.rng;
    const d = anomalyIntervals(this.interval);
    const fit = Math.min(ANOMALY_KINDS.length, Math.floor((this.intervals - ANOMALY_HISTORY) / (d + 1)));
    const kinds = rng.shuffle(ANOMALY_KINDS);
    if (fit <= 0) return;
    const segment = Math.floor((this.intervals - ANOMALY_HISTORY) / fit);
    for (let j = 0; j < fit; j++) {
      const kind = kinds[j] as AnomalyKind;
      const from = ANOMALY_HISTORY + j * segment + rng.int(0, segment - d - 1);
      const to = from + d - 1;
      const truth: TruthAnomaly = { kind, pid: 0, start_time: 0, name: '', from_timestamp: this.time(from), to_timestamp: this.time(to), description: '' };
      const planned: Planned = { kind, from, to, level: 0, leakSteps: [], truth };
      if (kind === 'runaway_batch') {
        if (!this.runawayMake) continue;
        planned.level = 0.95;
      } else {
        const p = roles.get(kind);
        if (!p || p.anomaly) continue;
        const t = p.t as Template;
        p.anomaly = planned;
        truth.pid = p.pid;
        truth.start_time = p.start;
        truth.name = t.name;
        const what = `"${short(t.cmdline, t.name)}"`;
        const seconds = d * this.interval;
        if (kind === 'cpu_spike') {
          planned.level = round3(rng.uniform(0.6, 0.8));
          truth.description = `CPU of ${what} jumps from its usual ~${pct(t.cpu)} to ~${pct(planned.level)} of one core for ${d} intervals (${seconds} s), then returns to normal`;
        } else if (kind === 'subtle_shift') {
          planned.level = round3(rng.uniform(0.08, 0.09));
          truth.description = `CPU of ${what} shifts from a steady ~${pct(t.cpu)} (noise under 0.1 percentage point) to ~${pct(planned.level)} of one core for ${d} intervals (${seconds} s): below the balanced profile's 10% threshold, visible only as a deviation`;
        } else {
          for (let k = 0; k < d; k++) planned.leakSteps.push(pages(rng.uniform(80, 150) * 1024 * 1024));
          const total = planned.leakSteps.reduce((a, b) => a + b, 0);
          const mb = (x: number): number => Math.round(x / (1024 * 1024));
          truth.description = `RSS of ${what} grows from ~${mb(t.rss)} MB by ~${mb(total / d)} MB per interval over ${d} intervals (+${mb(total)} MB), then stays at the new level`;
        }
      }
      this.plans.push(planned);
    }
    this.plans.sort((a, b) => a.from - b.from);
  }

  /** Yields the snapshots, one at a time (memory stays bounded by one snapshot). Call once. */
  *snapshots(): Generator<Snapshot, void, undefined> {
    if (this.started) throw new Error('snapshots() can be iterated only once');
    this.started = true;
    for (let i = -this.warmup + 1; i < this.intervals; i++) {
      const to = this.time(i);
      this.step(this.time(i - 1), to, i);
      if (i >= 0) {
        yield { schema: SNAPSHOT_SCHEMA, host: { ...this.host }, timestamp: to, processes: this.procs.map((p) => this.sample(p, to)) };
      }
    }
    this.finished = true;
  }

  /** The ground truth; complete once snapshots() has run to its end. */
  truth(): GroundTruth {
    if (!this.finished) throw new Error('the ground truth is complete only once every snapshot was generated');
    return {
      archetype: this.archetype,
      seed: this.seed,
      intervals: this.intervals,
      interval_seconds: this.interval,
      anomalies: this.plans.map((p) => ({ ...p.truth })),
    };
  }

  private step(from: number, to: number, index: number): void {
    const rng = this.rng;
    const dt = to - from;
    this.pending = [];
    const lo = round2(Math.floor(from * 100) / 100 + 0.01);
    const hi = round2(Math.floor(to * 100) / 100);
    const spawn = (make: Factory, o: SpawnOptions): Proc => {
      const birth = Math.min(hi, Math.max(lo, round2(o.birth)));
      const end = Math.max(o.end, birth + 0.01);
      const parent = (o.parent as Proc | null | undefined) ?? null;
      const p = new Proc(make, parent, o.ppid ?? 1, birth, end, o.zombieFor === undefined ? 0 : end + o.zombieFor, o.lifetime ?? Infinity);
      this.pending.push(p);
      return p;
    };
    // Pooled processes (connections, recycled workers, restarted containers) are replaced by new identities.
    for (const p of this.procs) {
      if (p.lifetime === Infinity || p.anomaly || p.zombie || p.end !== Infinity) continue;
      if (!rng.chance(1 - Math.exp(-dt / p.lifetime))) continue;
      p.end = from + rng.uniform(0, 0.8) * dt;
      spawn(p.make, { parent: p.parent, ppid: p.ppid, birth: p.end + rng.uniform(0.01, Math.min(2, (to - p.end) / 2)), end: Infinity, lifetime: p.lifetime });
    }
    for (const a of this.plans) {
      if (a.kind === 'memory_leak' && index >= a.from && index <= a.to) {
        const p = this.procs.find((q) => q.anomaly === a);
        const stepBytes = a.leakSteps[index - a.from] ?? 0;
        if (p) {
          p.rssBase += stepBytes;
          p.vmsBase += stepBytes;
        }
      }
      if (a.kind === 'runaway_batch' && index === a.from && this.runawayMake) {
        const end = this.time(a.to) + rng.uniform(0.1, 0.8) * this.interval;
        const p = spawn(this.runawayMake.make, { parent: this.runawayMake.parent, birth: from + rng.uniform(0.2, 0.7) * dt, end });
        p.anomaly = a;
      }
    }
    const tick: Tick = {
      rng,
      from,
      to,
      spawn,
      exit: (handle, at) => {
        const p = handle as Proc;
        p.end = Math.min(p.end, Math.max(p.start + 0.01, at));
      },
      alive: (handle) => (handle as Proc).end > to,
    };
    for (const fn of this.ticks) fn(tick);
    // New processes get increasing pids in the order they started.
    this.pending.sort((a, b) => a.start - b.start);
    for (const p of this.pending) p.pid = this.allocate(p.start);
    const next: Proc[] = [];
    for (const p of this.procs) {
      if (p.zombie) {
        if (p.zombieUntil > to) next.push(p);
      } else if (p.end <= to) {
        if (p.zombieUntil > to) {
          this.advance(p, from, p.end, index);
          p.zombie = true;
          next.push(p);
        }
      } else {
        this.advance(p, from, to, index);
        next.push(p);
      }
    }
    for (const p of this.pending) {
      const visible = p.end > to || p.zombieUntil > to;
      if (!visible) continue; // started and exited between two snapshots: only its pid is left
      const t = this.materialize(p);
      p.minf = t.kernel ? 0 : (t.rss / PAGE) * 0.5;
      this.advance(p, p.start, Math.min(p.end, to), index);
      if (p.end <= to) p.zombie = true;
      if (p.anomaly) {
        p.anomaly.truth.pid = p.pid;
        p.anomaly.truth.start_time = p.start;
        p.anomaly.truth.name = t.name;
        p.anomaly.truth.description = `new process "${short(t.cmdline, t.name)}" starts after the snapshot before from_timestamp, runs at ~${pct(t.cpu)} of one core and exits after to_timestamp (before the next snapshot)`;
      }
      next.push(p);
    }
    this.procs = next;
  }

  private cpuRate(p: Proc, t: Template, index: number, load: number): number {
    const rng = this.rng;
    const a = p.anomaly;
    if (a && index >= a.from && index <= a.to) {
      if (a.kind === 'cpu_spike') return a.level * Math.max(0.5, 1 + 0.04 * rng.gauss());
      if (a.kind === 'subtle_shift') return a.level + rng.uniform(-0.001, 0.001);
    }
    const base = t.cpu * load;
    if (t.cpuAbsNoise !== undefined) return Math.max(0, base + rng.uniform(-t.cpuAbsNoise, t.cpuAbsNoise));
    return base * Math.max(0.02, 1 + (t.cpuNoise ?? 0.2) * rng.gauss());
  }

  /** Moves a process's counters and gauges from `from` to `to` (seconds of life in this interval). */
  private advance(p: Proc, from: number, to: number, index: number): void {
    const dt = to - from;
    if (dt <= 0) return;
    const t = p.t as Template;
    const rng = this.rng;
    const load = t.daily ? dailyFactor((from + to) / 2) : 1;
    const rate = this.cpuRate(p, t, index, load);
    const cpu = rate * dt;
    const us = t.userShare ?? 0.8;
    p.cpuU += cpu * us;
    p.cpuS += cpu * (1 - us);
    const ctx = (t.ctx ?? 1) * dt * load * Math.max(0, 1 + 0.2 * rng.gauss());
    p.vol += ctx;
    p.invol += cpu * 20 + ctx * 0.02;
    if (t.kernel) {
      p.state = rng.chance(rate * 5) ? 'R' : (t.idleState ?? 'S');
      return;
    }
    const act = load * Math.max(0, 1 + 0.3 * rng.gauss());
    p.ioR += (t.ioRead ?? 0) * dt * act;
    p.ioW += (t.ioWrite ?? 0) * dt * act;
    const faults = (t.faults ?? 1) * dt * act + cpu * 50;
    p.minf += faults;
    p.majf += faults * 0.0005;
    p.rssDev = p.rssDev * 0.7 + rng.gauss() * (t.rssNoise ?? 0.01) * t.rss * 0.7;
    p.fds = t.fds < 3 ? t.fds : Math.max(3, Math.round(t.fds + rng.gauss() * Math.max(0.4, t.fds * 0.02)));
    if (t.threads > 4 && rng.chance(0.05)) p.threads = Math.min(t.threads + 3, Math.max(t.threads - 2, p.threads + (rng.chance(0.5) ? 1 : -1)));
    if (rng.next() < Math.min(0.95, rate)) p.state = 'R';
    else if (t.blocking !== undefined && rng.chance(t.blocking)) p.state = 'D';
    else p.state = t.idleState ?? 'S';
  }

  private sample(p: Proc, at: number): ProcessSample {
    const t = p.t as Template;
    const parent = p.parent;
    const ppid = parent === null ? p.ppid : parent.end > at || (parent.zombie && parent.zombieUntil > at) ? parent.pid : 1;
    const rss = t.kernel || p.zombie ? 0 : Math.max(PAGE, pages(p.rssBase + p.rssDev));
    const io = (x: number): number => (t.kernel ? 0 : pages(x));
    return {
      pid: p.pid,
      ppid,
      name: t.name,
      exe: p.zombie ? '' : t.exe,
      cmdline: p.zombie ? '' : t.cmdline,
      user: t.user,
      state: p.zombie ? 'Z' : p.state,
      start_time: p.start,
      cpu_user_seconds: round2(p.cpuU),
      cpu_system_seconds: round2(p.cpuS),
      rss_bytes: rss,
      vms_bytes: t.kernel || p.zombie ? 0 : Math.max(rss, pages(p.vmsBase + p.rssDev)),
      threads: p.zombie ? 1 : p.threads,
      fds: p.zombie ? 0 : p.fds,
      io_read_bytes: io(p.ioR),
      io_write_bytes: io(p.ioW),
      minor_faults: Math.floor(p.minf),
      major_faults: Math.floor(p.majf),
      ctx_voluntary: Math.floor(p.vol),
      ctx_involuntary: Math.floor(p.invol),
      cgroup: t.cgroup,
    };
  }
}

/** Generates a whole recording in memory (tests, small recordings); the CLI streams snapshots() instead. */
export function generate(options: SynthOptions): { host: HostInfo; snapshots: Snapshot[]; truth: GroundTruth } {
  const synth = new SyntheticHost(options);
  const snapshots = [...synth.snapshots()];
  return { host: synth.host, snapshots, truth: synth.truth() };
}
