/**
 * The synthetic host engine's model: options, ground-truth records, the templates archetypes describe
 * processes with, the interfaces between engine and archetypes, and the seeded random numbers.
 */
import type { Archetype } from './synth-archetypes.js';

export const ANOMALY_KINDS = ['cpu_spike', 'memory_leak', 'runaway_batch', 'subtle_shift'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export interface SynthOptions {
  archetype: Archetype;
  /** Number of snapshots. */
  intervals: number;
  intervalSeconds?: number;
  seed?: number;
  /** Nominal unix time of the first snapshot. */
  start?: number;
}

/** One injected anomaly: the process identity (pid, start_time) and the snapshots (inclusive) it shows in. */
export interface TruthAnomaly {
  kind: AnomalyKind;
  pid: number;
  start_time: number;
  name: string;
  from_timestamp: number;
  to_timestamp: number;
  description: string;
}

export interface GroundTruth {
  archetype: Archetype;
  seed: number;
  intervals: number;
  interval_seconds: number;
  anomalies: TruthAnomaly[];
}

/** What a process is and how it behaves: static attributes and mean usage. */
export interface Template {
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  cgroup: string | null;
  /** Mean CPU, in cores. */
  cpu: number;
  /** Relative standard deviation of the CPU rate from one interval to the next (default 0.2). */
  cpuNoise?: number;
  /** Steady process: uniform absolute noise of this many cores instead of cpuNoise. */
  cpuAbsNoise?: number;
  /** Follows the daily load pattern (CPU, IO, context switches). */
  daily?: boolean;
  /** Share of CPU time spent in user mode (default 0.8). */
  userShare?: number;
  rss: number;
  /** Relative standard deviation of RSS around its level (default 0.01). */
  rssNoise?: number;
  vms: number;
  threads: number;
  fds: number;
  /** Bytes per second. */
  ioRead?: number;
  ioWrite?: number;
  /** Minor page faults per second (on top of those that come with CPU use). */
  faults?: number;
  /** Voluntary context switches per second. */
  ctx?: number;
  /** Kernel thread: no exe, command line, memory, fds, IO. */
  kernel?: boolean;
  /** State when not running (default S; I for idle kernel workers). */
  idleState?: string;
  /** Probability of being seen in D state. */
  blocking?: number;
}

export type Factory = (rng: Random) => Template;
export type Role = 'cpu_spike' | 'memory_leak' | 'subtle_shift';

/** A process of the simulation; its pid is 0 until allocated. */
export interface ProcHandle {
  readonly pid: number;
}

export interface ProcOptions {
  /** Absolute unix seconds; before the builder's `now`. */
  start: number;
  parent?: ProcHandle | null;
  /** Parent pid when there is no parent handle (default 1). */
  ppid?: number;
  /** A fixed pid (1 and 2). */
  pid?: number;
  /** Mean lifetime in seconds: the process is replaced by a fresh instance (new identity) at that rate. */
  lifetime?: number;
  /** An anomaly this process may carry (the engine picks the anomalies that fit). */
  role?: Role;
}

export interface SpawnOptions {
  parent?: ProcHandle | null;
  ppid?: number;
  /** Absolute unix seconds inside the tick's interval. */
  birth: number;
  /** When it exits (Infinity: never). */
  end: number;
  /** Seconds it stays a zombie after exiting. */
  zombieFor?: number;
  lifetime?: number;
}

/** The interval (from, to] being simulated, for archetype hooks that start and end processes. */
export interface Tick {
  readonly rng: Random;
  readonly from: number;
  readonly to: number;
  spawn(make: Factory, opts: SpawnOptions): ProcHandle;
  /** Ends a process at `at` (inside the interval). */
  exit(proc: ProcHandle, at: number): void;
  alive(proc: ProcHandle): boolean;
}

export interface HostBuilder {
  readonly rng: Random;
  readonly boot: number;
  /** When the simulation begins (before the first snapshot, by a warm-up): initial processes start before it. */
  readonly now: number;
  readonly interval: number;
  readonly cpus: number;
  readonly hostName: string;
  /** A process alive when the simulation begins. */
  proc(make: Factory, opts: ProcOptions): ProcHandle;
  /** Called once per interval, in registration order, to start and end processes. */
  onTick(fn: (tick: Tick) => void): void;
  /** The factory and parent of the `runaway_batch` anomaly's process. */
  runaway(make: Factory, parent: ProcHandle): void;
}

/** Seeded PRNG (cyrb128 hash of the seed text, sfc32 generator): fast and identical on every platform. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (let i = 0; i < seed.length; i++) {
      const k = seed.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    h1 ^= h2 ^ h3 ^ h4;
    this.a = h1 >>> 0;
    this.b = (h2 ^ h1) >>> 0;
    this.c = (h3 ^ h1) >>> 0;
    this.d = (h4 ^ h1) >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Standard normal (Box-Muller). */
  gauss(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.gauss());
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.gauss()));
    const limit = Math.exp(-lambda);
    let k = 0;
    for (let p = this.next(); p > limit; p *= this.next()) k++;
    return k;
  }

  hex(length: number): string {
    let s = '';
    while (s.length < length) s += Math.floor(this.next() * 4294967296).toString(16).padStart(8, '0');
    return s.slice(0, length);
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
