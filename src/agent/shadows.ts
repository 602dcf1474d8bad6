/**
 * Shadow profiles (`advanced.shadow_profiles`): every interval, the other profiles run on the same
 * snapshot as the one in force, for their KPIs only: nothing of theirs is exported. `nrdot-plus-ctl
 * profile compare` puts them side by side with the profile in force, and the control loop can see
 * what a step would cost before taking it.
 *
 * They share the real pipeline's first stage (classification, rates, anomaly statistics: a
 * ProfileSet, src/pipeline/profile-set.ts) and run selection, series and KPIs each with a memory of
 * their own. The profile in force is skipped (the real pipeline gives its KPIs) and what it
 * remembered as a shadow is dropped: when it is a shadow again it starts afresh (no top-K incumbents,
 * no retained anomalies). An interval without rates (the very first) is not reported.
 */
import type { Config } from '../config/index.js';
import { ProfileSet, type Kpis, type Metric, type Pipeline } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';
import type { ProfileComparison, StateStore } from '../store/index.js';

export interface ShadowRunOptions {
  /** The collection cadence, for the per-hour cost (as the real pipeline is given). */
  cadenceSeconds?: number;
  /**
   * The self-metrics the real pipeline added (delivery counters, own usage): they would be sent in
   * any profile, so they are counted in each one's datapoints, bytes and cost alike.
   */
  extraSelf?: readonly Metric[];
}

/** The pipeline that runs each interval (the Optimizer's): the shadows decide on what it observed. */
export interface ShadowSource {
  readonly activePipeline: Pipeline;
}

/** The shadows' share of the agent's work, for status. */
export interface ShadowStats {
  profiles: string[];
  /** CPU (user + system) of the latest interval's shadow runs; null before the first. */
  last_cpu_ms: number | null;
  /** Mean of that over every interval since the start (or the latest reload); null before the first. */
  mean_cpu_ms: number | null;
}

export class ShadowProfiles {
  private readonly set: ProfileSet;
  private lastCpuMs: number | null = null;
  private totalCpuMs = 0;
  private runs = 0;

  constructor(
    config: Config,
    profiles: string[],
    private readonly source: ShadowSource,
  ) {
    this.set = new ProfileSet(config, []);
    this.setConfig(config, profiles);
  }

  /** The shadow profiles, in the configuration's order. */
  get profiles(): string[] {
    return this.set.names;
  }

  /**
   * A reloaded configuration (the real pipeline's too), from the next interval on. A profile still
   * listed keeps what it remembers (as the real pipeline keeps its state); one no longer listed is forgotten.
   */
  setConfig(config: Config, profiles: string[]): void {
    for (const name of profiles) {
      if (!Object.hasOwn(config.profiles, name)) throw new Error(`shadow profile "${name}": no such profile (profiles: ${Object.keys(config.profiles).join(', ')})`);
    }
    this.set.setConfig(config, profiles);
    this.lastCpuMs = null;
    this.totalCpuMs = 0;
    this.runs = 0;
  }

  /**
   * Right after the real pipeline ran `snapshot`: runs every shadow profile but `inForce` on it,
   * and returns their KPIs in the configuration's order (none without rates), and the CPU they took.
   */
  run(snapshot: Snapshot, inForce: string, opts: ShadowRunOptions = {}): { kpis: Kpis[]; cpuMs: number } {
    if (this.set.names.length === 0) return { kpis: [], cpuMs: 0 };
    const pipeline = this.source.activePipeline;
    const observed = pipeline.observed;
    if (observed?.obs.snapshot !== snapshot) throw new Error('shadow profiles run right after the pipeline, on the snapshot it ran');
    const started = process.cpuUsage();
    const kpis = this.set.run(pipeline, { skip: inForce, extraSelf: opts.extraSelf, cadenceSeconds: opts.cadenceSeconds });
    const used = process.cpuUsage(started);
    const cpuMs = (used.user + used.system) / 1000;
    this.lastCpuMs = cpuMs;
    this.totalCpuMs += cpuMs;
    this.runs++;
    // The first interval has no rates (nor has the real one's): nothing worth comparing.
    return { kpis: observed.obs.intervalStart === null ? [] : kpis, cpuMs };
  }

  stats(): ShadowStats {
    return {
      profiles: this.profiles,
      last_cpu_ms: this.lastCpuMs === null ? null : round(this.lastCpuMs),
      mean_cpu_ms: this.runs === 0 ? null : round(this.totalCpuMs / this.runs),
    };
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** What `GET /api/v1/profiles/compare` answers. */
export interface ComparisonAnswer {
  /** The window, unix seconds of data time, both inclusive. */
  since: number;
  until: number;
  in_force: string;
  shadow_profiles: string[];
  cost_model: { currency: string; billing_model: 'bytes' | 'datapoints' };
  /** In the configuration's order (a profile it no longer has last); only those with intervals in the window. */
  profiles: ProfileComparison[];
}

/** The profiles side by side over a window, from the state store. */
export function compareProfiles(store: StateStore, config: Config, window: { since: number; until: number }, inForce: string, shadows: string[]): ComparisonAnswer {
  const order = Object.keys(config.profiles);
  const rank = (p: string): number => (order.includes(p) ? order.indexOf(p) : order.length);
  const profiles = store.compareProfiles(window).sort((a, b) => rank(a.profile) - rank(b.profile) || (a.profile < b.profile ? -1 : 1));
  const { currency, billing_model } = config.cost_model;
  return { ...window, in_force: inForce, shadow_profiles: shadows, cost_model: { currency, billing_model }, profiles };
}
