/**
 * The optimizer: a pure, deterministic function of (snapshot, previous state, config, profile) that
 * returns the series to export, a decision per process, the interval's KPIs and the next state
 * (SPEC, "Data flow"). No clock, no I/O: time comes in with the snapshot. Stage 1 depends on the
 * configuration alone, so several profiles can share it (profile-set.ts, the shadow profiles).
 */
import type { Config, ProfileConfig } from '../config/index.js';
import { attributesSize, billedAttributesBytes } from '../otlp/size.js';
import { boundCmdline } from '../snapshot/cmdline.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';
import { anomalySettings, observe, type AnomalySettings } from './anomaly.js';
import { Baseline, type BaselineFigures } from './baseline.js';
import { Classifier } from './classify.js';
import { intervalKpis, totalsError } from './kpis.js';
import { resolveMetricSet, seriesCount, unionMetricSets, type MetricSet } from './metricset.js';
import { usage } from './rates.js';
import { Redactor } from './redact.js';
import { missedRules } from './missed.js';
import { buildRollups, groupName, type GroupAttributes } from './rollup.js';
import { chooseTopK, topKFor } from './select.js';
import { buildMetrics, hostAttributes, processAttributes, rollupAttributes, selfMetricCount } from './series.js';
import type { Attributes, Decision, Metric, PipelineResult, PipelineState, ProcessMemory, ProfileMemory, ResourceSeries, RollupCarry, SeriesSighting } from './types.js';
import { fnv1a, newMemory, newView, type Known, type KnownAttributes, type View } from './view.js';

const MB = 1024 * 1024;
/** Seconds an unseen identity is remembered. */
const FORGET_AFTER = 600;

export function identityKey(p: ProcessSample): string {
  return `${p.pid}:${p.start_time}`;
}

/** A profile's parts, resolved once: its settings and metric sets. */
export interface ProfileParts {
  name: string;
  profile: ProfileConfig;
  criticalSet: MetricSet;
  otherSet: MetricSet;
  rollupSet: MetricSet;
}

export function profileParts(config: Config, name: string): ProfileParts {
  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
  if (!profile) throw new Error(`no profile named "${name}" (profiles: ${Object.keys(config.profiles).join(', ')})`);
  const criticalSet = resolveMetricSet(profile.metrics.critical);
  const otherSet = resolveMetricSet(profile.metrics.other);
  // A rollup carries its members' metrics and the additive totals of anything kept without them.
  const rollupSet = unionMetricSets(otherSet, { ...criticalSet, memoryVirtual: false, cpuUtilization: false, threads: false, openFds: false, contextSwitches: false, pagingFaults: false });
  return { name, profile, criticalSet, otherSet, rollupSet };
}

/** Stage 1's result for one snapshot: what every profile's stages see alike. */
export interface Observation {
  snapshot: Snapshot;
  t: number;
  intervalStart: number | null;
  host: Attributes;
  views: View[];
  baseline: BaselineFigures;
  sumRss: number;
  totalCpu: number;
  tiersPresent: number;
}

/** What one profile's stages 2-4 carry from one interval to the next, besides the per-process memory. */
export interface ProfileCarry {
  rollups: Map<string, RollupCarry>;
  seriesSeen: Map<string, SeriesSighting>;
  seriesUnique: number;
}

/**
 * The stages and the caches they keep across runs (classification per identity, rollup group
 * attributes, the baseline calculator, pooled views), for one configuration. Stage 1 (classify,
 * rates, anomaly statistics) depends on the configuration only; stages 2-4 (selection, series and
 * rollups, KPIs) on a profile, whose own memory per identity (anomaly retention, top-K incumbency)
 * `decide` is handed. A Pipeline is one engine and one profile; a ProfileSet one engine and several.
 */
export class Engine {
  private readonly classifier: Classifier;
  private readonly redactor: Redactor;
  private readonly anomaly: AnomalySettings;
  private readonly known = new Map<number, Known>();
  private baselineHost = '';
  private baselineCalc: Baseline | null = null;
  private readonly groups = new Map<string, GroupAttributes>();
  private readonly pool: View[] = [];

  constructor(readonly config: Config) {
    this.classifier = new Classifier(config);
    this.redactor = new Redactor(config.advanced.redaction.secret_names, config.advanced.redaction.patterns);
    this.anomaly = anomalySettings(config);
  }

  /**
   * Stage 1: classify, rates, anomaly statistics. Updates the identities' memory in `state.processes`
   * in place (a run consumes its state); the views are valid until the next observation.
   */
  observe(snapshot: Snapshot, state: PipelineState): Observation {
    const t = snapshot.timestamp;
    const intervalStart = state.timestamp !== null && state.timestamp < t ? state.timestamp : null;
    const host = hostAttributes(snapshot.host);
    const processes = state.processes;
    const views: View[] = [];
    const baseline: BaselineFigures = { datapoints: 0, bytes: 0, billedBytes: 0 };
    const baselineCalc = this.baselineFor(host);
    let sumCpu = 0;
    let sumRss = 0;
    let sumIo = 0;

    for (const p of snapshot.processes) {
      const known = this.classify(p);
      const held = processes.get(p.pid);
      const prev = held !== undefined && held.start === p.start_time ? held : undefined;
      // A run consumes its state: a known identity's memory is updated in place.
      const mem = prev ?? newMemory(p.start_time);
      // Views are pooled across runs: a snapshot of thousands of processes allocates none.
      let view = this.pool[views.length];
      if (view === undefined) {
        view = newView(p, known, mem);
        this.pool.push(view);
      }
      view.p = p;
      view.known = known;
      view.mem = mem;
      view.seenBefore = prev !== undefined;
      view.tier = known.tier;
      view.importance = known.importance;
      view.group = known.group;
      view.composite = 0;
      view.dCtxVoluntary = prev ? Math.max(0, p.ctx_voluntary - prev.ctxVoluntary) : 0;
      view.dCtxInvoluntary = prev ? Math.max(0, p.ctx_involuntary - prev.ctxInvoluntary) : 0;
      view.dMinorFaults = prev ? Math.max(0, p.minor_faults - prev.minorFaults) : 0;
      view.dMajorFaults = prev ? Math.max(0, p.major_faults - prev.majorFaults) : 0;
      usage(p, prev, t, intervalStart, view);
      view.detected = observe(mem, view.cpuPercent, p.rss_bytes, this.anomaly);
      mem.t = t;
      mem.cpuUser = p.cpu_user_seconds;
      mem.cpuSystem = p.cpu_system_seconds;
      mem.ioRead = p.io_read_bytes;
      mem.ioWrite = p.io_write_bytes;
      mem.ctxVoluntary = p.ctx_voluntary;
      mem.ctxInvoluntary = p.ctx_involuntary;
      mem.minorFaults = p.minor_faults;
      mem.majorFaults = p.major_faults;
      if (prev === undefined) processes.set(p.pid, mem);
      views.push(view);
      sumCpu += view.cpuPercent;
      sumRss += p.rss_bytes;
      sumIo += view.ioBytesPerSec;
      // The stock scraper's bytes for the command line as the receiver reads it (a recording's is cut alike).
      if (known.baseline === null) known.baseline = baselineCalc.measure(known.bounded === p.cmdline ? p : { ...p, cmdline: known.bounded });
      baseline.datapoints += known.baseline.datapoints;
      baseline.bytes += known.baseline.bytes;
      baseline.billedBytes += known.baseline.billedBytes;
    }
    let totalCpu = 0;
    for (const v of views) {
      v.composite =
        ((sumCpu > 0 ? v.cpuPercent / sumCpu : 0) + (sumRss > 0 ? v.p.rss_bytes / sumRss : 0) + (sumIo > 0 ? v.ioBytesPerSec / sumIo : 0)) / 3;
      totalCpu += v.dCpuUser + v.dCpuSystem;
    }
    return { snapshot, t, intervalStart, host, views, baseline, sumRss, totalCpu, tiersPresent: new Set(views.map((v) => v.tier)).size };
  }

  /**
   * Stages 2-4 for one profile: selection, series and rollups, KPIs. `memoryOf` gives the profile's
   * own memory of a view's identity (the ProcessMemory for a Pipeline's own profile); `carry` is
   * consumed and the next one returned.
   */
  decide(obs: Observation, parts: ProfileParts, memoryOf: (v: View) => ProfileMemory, carry: ProfileCarry, options: RunOptions): Omit<PipelineResult, 'state'> & { carry: ProfileCarry } {
    const { t, host, views, snapshot } = obs;
    const profile = parts.profile;
    const retention = profile.anomaly.retention_minutes * 60;

    // This profile's view of the anomalies and of the incumbents of the top-K.
    let anomalies = 0;
    for (const v of views) {
      const pm = memoryOf(v);
      if (v.detected && retention > 0) pm.anomalyUntil = t + retention;
      v.pm = pm;
      v.anomaly = retention > 0 && pm.anomalyUntil >= t;
      if (v.anomaly) anomalies++;
      v.incumbent = pm.inTopK;
      pm.inTopK = false;
      v.rank = 0;
      v.dropped = null;
      v.reason = '';
      v.kept = false;
      v.sampled = false;
      v.series = 0;
      v.rollup = '';
    }

    // Stage 2: selection, in the SPEC's priority order, under the series cap.
    const th = profile.thresholds;
    const byPriority: View[][] = [[], [], []]; // anomaly, threshold, top-k
    const topKPool = new Map<string, View[]>();
    let criticalCount = 0;
    let fixedSeries = 0;
    for (const v of views) {
      if (v.known.critical || v.known.forced) {
        v.kept = true;
        v.reason = v.known.critical ? 'critical' : 'force_collect';
        v.series = seriesOf(v, parts.criticalSet);
        fixedSeries += v.series;
        if (v.known.critical) criticalCount++;
        continue;
      }
      if (v.anomaly) {
        v.reason = 'anomaly';
        byPriority[0]!.push(v);
        continue;
      }
      if (!v.seenBefore) {
        v.dropped = 'young';
        continue;
      }
      const over =
        v.cpuPercent >= th.cpu_threshold_percent ? 'cpu'
        : v.p.rss_bytes >= th.memory_threshold_mb * MB ? 'memory'
        : v.ioBytesPerSec >= th.io_threshold_kb_per_sec * 1024 ? 'io'
        : null;
      if (over) {
        v.reason = `threshold:${over}`;
        byPriority[1]!.push(v);
        continue;
      }
      if (v.tier === 'noise') v.dropped = 'noise';
      else if (v.importance < th.min_importance_score) v.dropped = 'importance';
      else if (v.composite < profile.limits.min_share) v.dropped = 'idle';
      else {
        let pool = topKPool.get(v.tier);
        if (!pool) topKPool.set(v.tier, (pool = []));
        pool.push(v);
      }
    }
    for (const [tier, pool] of topKPool) {
      const k = topKFor(tier, profile.limits.top_k_per_class);
      for (const v of chooseTopK(pool, k)) {
        v.reason = 'top-k';
        byPriority[2]!.push(v);
      }
      // chooseTopK sorted the pool by composite: the rank. A candidate not chosen within the first k
      // was held out by an incumbent's margin; beyond them, by the K itself.
      for (let i = 0; i < pool.length; i++) {
        const v = pool[i]!;
        v.rank = i + 1;
        if (v.reason !== 'top-k') v.dropped = i < k ? 'incumbent' : 'rank';
      }
    }
    // Room for rollups: every tier's groups (and the carrier of kept processes' totals). When that
    // does not fit beside the critical processes, each tier rolls up into a single group.
    const cap = profile.limits.max_series_per_host;
    const perGroup = seriesCount(parts.rollupSet, true, true) + 1;
    const extraSelf = options.extraSelf ?? [];
    const fixed = fixedSeries + selfMetricCount(criticalCount > 0) + extraSelf.reduce((n, m) => n + m.points.length, 0);
    let groupsPerTier = profile.limits.rollup_groups_per_tier;
    if (fixed + (obs.tiersPresent * groupsPerTier + 1) * perGroup > cap) groupsPerTier = 1;
    let budget = cap - fixed - (obs.tiersPresent * groupsPerTier + 1) * perGroup;
    for (const group of byPriority) {
      group.sort((a, b) => b.composite - a.composite || a.p.pid - b.p.pid);
      for (const v of group) {
        const s = seriesOf(v, parts.otherSet);
        if (s <= budget) {
          v.kept = true;
          v.series = s;
          budget -= s;
        } else {
          v.reason = `${v.reason} over the series cap`;
          v.dropped = 'cap';
        }
      }
    }
    // Whatever kept its own series this interval is an incumbent for the next top-K, whichever rule
    // kept it: a process hovering around a threshold does not flap between its series and a rollup.
    for (const group of byPriority) for (const v of group) v.pm.inTopK = v.kept;

    // Optional reservoir sample of the tail: a few processes exported individually with their weight.
    const sampleSize = profile.sampling.reservoir_size;
    let sampleWeight = 0;
    if (sampleSize > 0) {
      const tail = views.filter((v) => !v.kept);
      // By a hash of the identity alone: the same processes stay sampled while they live (no churn).
      const picked = tail.map((v) => ({ v, h: fnv1a(v.known.seriesKey) })).sort((a, b) => a.h - b.h || a.v.p.pid - b.v.p.pid).slice(0, sampleSize);
      let sampled = 0;
      for (const { v } of picked) {
        const s = seriesOf(v, parts.otherSet);
        if (s > budget) break;
        budget -= s;
        v.kept = true;
        v.dropped = null;
        v.sampled = true;
        v.series = s;
        v.reason = 'sample';
        sampled++;
      }
      // Whole numbers, so that the attribute does not fork the series at every small change of the tail.
      sampleWeight = sampled > 0 ? Math.round(tail.length / sampled) : 0;
    }

    // Stage 3: series for kept processes; rollups for the rest.
    const resources: ResourceSeries[] = [];
    const rolled: View[] = [];
    const uncarried: View[] = [];
    let keptCpu = 0;
    let keptRss = 0;
    let keptCritical = 0;
    for (const v of views) {
      if (!v.kept) {
        rolled.push(v);
        continue;
      }
      const set = v.known.critical || v.known.forced ? parts.criticalSet : parts.otherSet;
      if (v.known.critical) keptCritical++;
      keptCpu += v.dCpuUser + v.dCpuSystem;
      keptRss += v.p.rss_bytes;
      const k = v.known;
      if (v.sampled) {
        // A sampled process loses its high-cardinality attributes and carries its weight.
        const attributes = processAttributes(v.p, host, v.tier, v.importance, null);
        delete attributes['process.executable.path'];
        attributes['nrdot.sample.weight'] = sampleWeight;
        resources.push({ kind: 'process', attributes, metrics: buildMetrics(set, seriesValues(v, snapshot.host.cpus)), seriesKey: k.seriesKey });
      } else {
        // Attributes are built once per identity, with the command line or without (emergency).
        const a = profile.command_lines ? (k.attributes ??= this.attributesOf(v, host, k.redacted)) : (k.bare ??= this.attributesOf(v, host, null));
        resources.push({
          kind: 'process',
          attributes: a.attributes,
          metrics: buildMetrics(set, seriesValues(v, snapshot.host.cpus)),
          attributesSize: a.size,
          attributesBilled: a.billed,
          seriesKey: k.seriesKey,
        });
      }
      // Totals its own series leave out (balanced keeps no IO for non-critical processes).
      const r = parts.rollupSet;
      if (set.cpuStates.length < r.cpuStates.length || (r.memoryUsage && !set.memoryUsage) || (set.ioDirections.length < r.ioDirections.length && v.dIoRead !== null)) {
        uncarried.push(v);
      }
    }
    const rollup = buildRollups({
      members: rolled,
      uncarried: uncarried.map((v) => ({ member: v, set: v.known.critical || v.known.forced ? parts.criticalSet : parts.otherSet })),
      by: profile.limits.rollup_by,
      groupsPerTier,
      minShare: profile.limits.min_share,
      attributes: (tier, group) => this.groupAttributes(host, tier, group),
      set: parts.rollupSet,
      carry: carry.rollups,
      t,
      intervalStart: obs.intervalStart,
    });
    resources.push(...rollup.resources);
    // A process the series cap refused says which rule would have kept it.
    for (const v of rolled) v.reason = `rollup:${v.rollup}${v.reason ? ` (${v.reason})` : ''}`;

    // Stage 4: KPIs, with the self-metrics counted in (they are billed too).
    const { kpis, self, seriesUnique } = intervalKpis({
      config: this.config,
      profile: parts.name,
      host,
      t,
      intervalStart: obs.intervalStart,
      resources,
      baseline: obs.baseline,
      processes: views.length,
      criticalCount,
      keptCritical,
      keptCpu,
      totalCpu: obs.totalCpu,
      keptRss,
      totalRss: obs.sumRss,
      rolledUp: rolled.length,
      anomalies,
      fixedSeries,
      cap,
      totalsError: totalsError(views, resources),
      seriesSeen: carry.seriesSeen,
      seriesUnique: carry.seriesUnique,
      extraSelf,
      agent: options.agent ?? null,
      cadence: options.cadenceSeconds ?? null,
    });
    resources.push(self);

    const decide = (): Decision[] => {
      const missed = missedRules(profile, topKPool);
      return views.map((v) => ({
      pid: v.p.pid,
      name: v.p.name,
      startTime: v.p.start_time,
      tier: v.tier,
      importance: v.importance,
      action: v.sampled ? 'sample' : v.kept ? 'keep' : 'rollup',
      reason: v.reason,
      cpuPercent: v.cpuPercent,
      rssBytes: v.p.rss_bytes,
      ioBytesPerSec: v.ioBytesPerSec,
      composite: v.composite,
      seenBefore: v.seenBefore,
      anomalyUntil: v.anomaly ? v.pm.anomalyUntil : null,
      series: v.kept ? v.series : 0,
      missed: v.kept ? null : missed(v),
    }));
    };
    return {
      batch: { timestamp: t, intervalStart: obs.intervalStart, resources },
      kpis,
      decisions: options.decisions === false ? [] : decide(),
      carry: { rollups: rollup.carry, seriesSeen: carry.seriesSeen, seriesUnique },
    };
  }

  /**
   * After the profiles have decided: an identity missing from a snapshot (hidden for a moment, or a
   * gap in a recording) keeps its memory for a while, so that its usage meanwhile is counted when it
   * is seen again; then it is forgotten, with its classification. Returns how many were forgotten.
   */
  forget(t: number, processes: Map<number, ProcessMemory>): number {
    let forgotten = 0;
    for (const [pid, mem] of processes) {
      if (t - mem.t > FORGET_AFTER) {
        processes.delete(pid);
        forgotten++;
      }
    }
    for (const [pid, k] of this.known) if (processes.get(pid)?.start !== k.start) this.known.delete(pid);
    return forgotten;
  }

  /** The identity's classification when it is cached (its static attributes unchanged). */
  cached(p: ProcessSample): Known | undefined {
    const k = this.known.get(p.pid);
    return k && k.start === p.start_time && k.name === p.name && k.exe === p.exe && k.cmdline === p.cmdline && k.user === p.user && k.ppid === p.ppid ? k : undefined;
  }

  /**
   * `p` as its identity was last classified: its static attributes (name, exe, command line, user,
   * parent) those of the cached classification, the rest its own; null when its identity has none.
   */
  asClassified(p: ProcessSample): ProcessSample | null {
    const k = this.known.get(p.pid);
    if (k === undefined || k.start !== p.start_time) return null;
    return { ...p, name: k.name, exe: k.exe, cmdline: k.cmdline, user: k.user, ppid: k.ppid };
  }

  /** Classifies and redacts an identity, once: cached until its static attributes change or it is forgotten. */
  classify(p: ProcessSample): Known {
    const k = this.cached(p);
    if (k) return k;
    // A recording's command lines are cut as the receiver cuts them, before anything looks at them.
    const cmdline = boundCmdline(p.cmdline);
    const c = this.classifier.classify(cmdline === p.cmdline ? p : { ...p, cmdline });
    const fresh: Known = {
      tier: c.tier,
      importance: c.importance,
      critical: c.critical,
      forced: c.forced,
      name: p.name,
      exe: p.exe,
      cmdline: p.cmdline,
      bounded: cmdline,
      user: p.user,
      ppid: p.ppid,
      redacted: this.redactor.redact(cmdline),
      attributes: null,
      bare: null,
      baseline: null,
      start: p.start_time,
      seriesKey: `p${identityKey(p)}`,
      group: groupName(p),
    };
    this.known.set(p.pid, fresh);
    return fresh;
  }

  private attributesOf(v: View, host: Attributes, redacted: string | null): KnownAttributes {
    const attributes = processAttributes(v.p, host, v.tier, v.importance, redacted);
    return { attributes, size: attributesSize(attributes), billed: billedAttributesBytes(attributes) };
  }

  /** A rollup group's resource attributes, built once per group (and host). */
  private groupAttributes(host: Attributes, tier: string, group: string): GroupAttributes {
    const key = `${tier}/${group}`;
    let a = this.groups.get(key);
    if (!a) {
      if (this.groups.size >= 10_000) this.groups.clear(); // executables with random names must not grow it forever
      const attributes = rollupAttributes(host, tier, this.classifier.score(tier), group);
      a = { attributes, size: attributesSize(attributes), billed: billedAttributesBytes(attributes) };
      this.groups.set(key, a);
    }
    return a;
  }

  /** The baseline calculator for a host's attributes (the same host in every snapshot, normally). */
  private baselineFor(host: Attributes): Baseline {
    const id = `${host['host.name']}\0${host['host.id']}`;
    if (this.baselineHost !== id) {
      this.baselineHost = id;
      this.baselineCalc = new Baseline(host);
      for (const k of this.known.values()) {
        k.baseline = null;
        k.attributes = null;
        k.bare = null;
      }
      this.groups.clear();
    }
    return this.baselineCalc!;
  }
}

function seriesOf(v: View, set: MetricSet): number {
  return seriesCount(set, v.p.io_read_bytes !== null, v.p.fds !== null);
}

function seriesValues(v: View, cpus: number) {
  const p = v.p;
  return {
    dCpuUser: v.dCpuUser,
    dCpuSystem: v.dCpuSystem,
    cpuUser: p.cpu_user_seconds,
    cpuSystem: p.cpu_system_seconds,
    rssBytes: p.rss_bytes,
    vmsBytes: p.vms_bytes,
    dIoRead: v.dIoRead,
    dIoWrite: v.dIoWrite,
    ioRead: p.io_read_bytes,
    ioWrite: p.io_write_bytes,
    cpuUtilization: v.cpuPercent / 100 / Math.max(cpus, 1),
    threads: p.threads,
    fds: p.fds,
    dCtxVoluntary: v.dCtxVoluntary,
    dCtxInvoluntary: v.dCtxInvoluntary,
    ctxVoluntary: p.ctx_voluntary,
    ctxInvoluntary: p.ctx_involuntary,
    dMajorFaults: v.dMajorFaults,
    dMinorFaults: v.dMinorFaults,
    majorFaults: p.major_faults,
    minorFaults: p.minor_faults,
    start: p.start_time,
  };
}

/** A run's stage 1, as the profiles that share it see it (ProfileSet). */
export interface Observed {
  engine: Engine;
  obs: Observation;
  /** The identities' memory after the run (what it forgot is gone). */
  processes: Map<number, ProcessMemory>;
  /** How many identities the run forgot. */
  forgotten: number;
}

/** The optimizer for one profile: an engine, and the profile's memory kept in the pipeline state. */
export class Pipeline {
  readonly profileName: string;
  private readonly engine: Engine;
  private readonly parts: ProfileParts;
  private latest: Observed | null = null;

  /** `engine`: another pipeline's of the same configuration, to keep its caches (a profile change). */
  constructor(config: Config, profileName: string, engine?: Engine) {
    this.parts = profileParts(config, profileName);
    this.profileName = profileName;
    this.engine = engine?.config === config ? engine : new Engine(config);
  }

  /** The engine (stage 1 and the caches), for a pipeline of another profile to share. */
  get sharedEngine(): Engine {
    return this.engine;
  }

  /**
   * Runs one interval. `state` is consumed (pass the returned one to the next run). Decisions are
   * built unless `decisions: false` (replaying for KPIs does not need them).
   */
  run(snapshot: Snapshot, state: PipelineState, options: RunOptions = {}): PipelineResult {
    const obs = this.engine.observe(snapshot, state);
    const carry = { rollups: state.rollups, seriesSeen: state.seriesSeen, seriesUnique: state.seriesUnique };
    const { batch, kpis, decisions, carry: next } = this.engine.decide(obs, this.parts, (v) => v.mem, carry, options);
    const forgotten = this.engine.forget(obs.t, state.processes);
    this.latest = { engine: this.engine, obs, processes: state.processes, forgotten };
    return { batch, kpis, decisions, state: { timestamp: obs.t, processes: state.processes, ...next } };
  }

  /**
   * Classifies and redacts `p` now, as the next run would, and caches it: the agent spreads the work
   * of new identities over several turns of the event loop (and a time budget) before the run,
   * which then finds them cached. True when `p` was not cached.
   */
  prime(p: ProcessSample): boolean {
    if (this.engine.cached(p)) return false;
    this.engine.classify(p);
    return true;
  }

  /** Whether a run would find `p` classified already. */
  primed(p: ProcessSample): boolean {
    return this.engine.cached(p) !== undefined;
  }

  /**
   * `p` with the static attributes its identity had when last classified, which a run finds
   * classified (it is not classified again); null when its identity was never classified.
   */
  asClassified(p: ProcessSample): ProcessSample | null {
    return this.engine.asClassified(p);
  }

  /** The latest run's stage 1 (valid until the next run), for other profiles to decide on; null before the first. */
  get observed(): Observed | null {
    return this.latest;
  }
}

export interface RunOptions {
  /** Build the per-process decisions (default true). */
  decisions?: boolean;
  /** Metrics to add to the self-metrics resource (the agent's delivery counters and own usage). */
  extraSelf?: readonly Metric[];
  /** The agent's own usage, for the KPIs (measured outside: the pipeline knows no clock). */
  agent?: AgentUsage;
  /**
   * The collection cadence, for the per-hour cost. Without it, the time since the previous snapshot
   * (a recording's own spacing); the live agent passes its interval, so that the first interval
   * after a restart (which spans the downtime) is not costed as one long interval.
   */
  cadenceSeconds?: number;
}

export interface AgentUsage {
  cpuPercent: number | null;
  rssBytes: number;
}

