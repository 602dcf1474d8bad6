/**
 * The optimizer: a pure, deterministic function of (snapshot, previous state, config, profile) that
 * returns the series to export, a decision per process, the interval's KPIs and the next state
 * (SPEC, "Data flow"). No clock, no I/O: time comes in with the snapshot.
 */
import type { Config, ProfileConfig } from '../config/index.js';
import { attributesSize, billedAttributesBytes, billedBytes, datapointCount, requestSize } from '../otlp/size.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';
import { anomalySettings, observe, type AnomalySettings } from './anomaly.js';
import { Baseline, type BaselineFigures } from './baseline.js';
import { Classifier, type Classification } from './classify.js';
import { resolveMetricSet, seriesCount, unionMetricSets, type MetricSet } from './metricset.js';
import { Redactor } from './redact.js';
import { buildRollups, groupName, type GroupAttributes, type RollupMember } from './rollup.js';
import { chooseTopK, topKFor } from './select.js';
import { buildMetrics, hostAttributes, processAttributes, rollupAttributes, selfMetricCount, selfResource } from './series.js';
import { usage, type Usage } from './rates.js';
import type { Attributes, Batch, Decision, Kpis, PipelineResult, PipelineState, ProcessMemory, ResourceSeries, SeriesSighting } from './types.js';

const DAY = 86400;
const MB = 1024 * 1024;
/** Seconds an unseen identity is remembered. */
const FORGET_AFTER = 600;

/** Classification and redacted command line, memoized per identity while its static attributes hold. */
interface Known extends Classification {
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  ppid: number;
  redacted: string;
  /** Resource attributes and their sizes, built the first time the process is kept. */
  attributes: Attributes | null;
  attributesSize: number;
  attributesBilled: number;
  /** This process's share of the baseline (static attributes: computed once per identity). */
  baseline: BaselineFigures | null;
  /** Identity key of its resource (for series_unique_24h). */
  seriesKey: string;
  /** Its rollup group by executable. */
  group: string;
  start: number;
}

/** One process in this interval, as the stages see it. */
interface View extends RollupMember, Usage {
  p: ProcessSample;
  known: Known;
  mem: ProcessMemory;
  seenBefore: boolean;
  anomaly: boolean;
  composite: number;
  incumbent: boolean;
  reason: string;
  kept: boolean;
  sampled: boolean;
  series: number;
}

export function identityKey(p: ProcessSample): string {
  return `${p.pid}:${p.start_time}`;
}

export class Pipeline {
  readonly profileName: string;
  private readonly profile: ProfileConfig;
  private readonly config: Config;
  private readonly classifier: Classifier;
  private readonly redactor: Redactor;
  private readonly anomaly: AnomalySettings;
  private readonly criticalSet: MetricSet;
  private readonly otherSet: MetricSet;
  private readonly rollupSet: MetricSet;
  private readonly known = new Map<number, Known>();
  private baselineHost = '';
  private baselineCalc: Baseline | null = null;
  private readonly groups = new Map<string, GroupAttributes>();
  private readonly pool: View[] = [];

  constructor(config: Config, profileName: string) {
    const profile = config.profiles[profileName];
    if (!profile) throw new Error(`no profile named "${profileName}" (profiles: ${Object.keys(config.profiles).join(', ')})`);
    this.config = config;
    this.profile = profile;
    this.profileName = profileName;
    this.classifier = new Classifier(config);
    this.redactor = new Redactor(config.advanced.redaction.secret_names, config.advanced.redaction.patterns);
    this.anomaly = anomalySettings(config);
    this.criticalSet = resolveMetricSet(profile.metrics.critical);
    this.otherSet = resolveMetricSet(profile.metrics.other);
    // A rollup carries its members' metrics and the additive totals of anything kept without them.
    this.rollupSet = unionMetricSets(this.otherSet, { ...this.criticalSet, memoryVirtual: false, cpuUtilization: false, threads: false, openFds: false, contextSwitches: false, pagingFaults: false });
  }

  /**
   * Runs one interval. `state` is consumed (pass the returned one to the next run). Decisions are
   * built unless `decisions: false` (replaying for KPIs does not need them).
   */
  run(snapshot: Snapshot, state: PipelineState, options: RunOptions = {}): PipelineResult {
    const t = snapshot.timestamp;
    const intervalStart = state.timestamp !== null && state.timestamp < t ? state.timestamp : null;
    const profile = this.profile;
    const retention = profile.anomaly.retention_minutes * 60;
    const host = hostAttributes(snapshot.host);
    const processes = state.processes;
    const views: View[] = [];
    const baseline: BaselineFigures = { datapoints: 0, bytes: 0, billedBytes: 0 };
    const baselineCalc = this.baselineFor(host);
    let sumCpu = 0;
    let sumRss = 0;
    let sumIo = 0;

    // Stage 1: classify, rates, anomalies.
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
      view.anomaly = false;
      view.incumbent = prev !== undefined && prev.inTopK;
      view.reason = '';
      view.kept = false;
      view.sampled = false;
      view.series = 0;
      view.tier = known.tier;
      view.importance = known.importance;
      view.group = known.group;
      view.rollup = '';
      view.composite = 0;
      view.dCtxVoluntary = prev ? Math.max(0, p.ctx_voluntary - prev.ctxVoluntary) : 0;
      view.dCtxInvoluntary = prev ? Math.max(0, p.ctx_involuntary - prev.ctxInvoluntary) : 0;
      view.dMinorFaults = prev ? Math.max(0, p.minor_faults - prev.minorFaults) : 0;
      view.dMajorFaults = prev ? Math.max(0, p.major_faults - prev.majorFaults) : 0;
      usage(p, prev, t, intervalStart, view);
      const anomalous = observe(mem, view.cpuPercent, p.rss_bytes, this.anomaly);
      if (anomalous && retention > 0) mem.anomalyUntil = t + retention;
      mem.t = t;
      mem.cpuUser = p.cpu_user_seconds;
      mem.cpuSystem = p.cpu_system_seconds;
      mem.ioRead = p.io_read_bytes;
      mem.ioWrite = p.io_write_bytes;
      view.anomaly = retention > 0 && mem.anomalyUntil >= t;
      mem.ctxVoluntary = p.ctx_voluntary;
      mem.ctxInvoluntary = p.ctx_involuntary;
      mem.minorFaults = p.minor_faults;
      mem.majorFaults = p.major_faults;
      mem.inTopK = false;
      if (prev === undefined) processes.set(p.pid, mem);
      views.push(view);
      sumCpu += view.cpuPercent;
      sumRss += p.rss_bytes;
      sumIo += view.ioBytesPerSec;
      if (known.baseline === null) known.baseline = baselineCalc.measure(p);
      baseline.datapoints += known.baseline.datapoints;
      baseline.bytes += known.baseline.bytes;
      baseline.billedBytes += known.baseline.billedBytes;
    }
    for (const v of views) {
      v.composite =
        ((sumCpu > 0 ? v.cpuPercent / sumCpu : 0) + (sumRss > 0 ? v.p.rss_bytes / sumRss : 0) + (sumIo > 0 ? v.ioBytesPerSec / sumIo : 0)) / 3;
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
        v.series = this.seriesOf(v, this.criticalSet);
        fixedSeries += v.series;
        if (v.known.critical) criticalCount++;
        continue;
      }
      if (v.anomaly) {
        v.reason = 'anomaly';
        byPriority[0]!.push(v);
        continue;
      }
      if (!v.seenBefore) continue;
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
      if (v.importance >= th.min_importance_score && v.tier !== 'noise' && v.composite >= profile.limits.min_share) {
        let pool = topKPool.get(v.tier);
        if (!pool) topKPool.set(v.tier, (pool = []));
        pool.push(v);
      }
    }
    for (const [tier, pool] of topKPool) {
      for (const v of chooseTopK(pool, topKFor(tier, profile.limits.top_k_per_class))) {
        v.reason = 'top-k';
        byPriority[2]!.push(v);
      }
    }
    // Room for rollups: every tier's groups (and the carrier of kept processes' totals). When that
    // does not fit beside the critical processes, each tier rolls up into a single group.
    const cap = profile.limits.max_series_per_host;
    const tiersPresent = new Set(views.map((v) => v.tier)).size;
    const perGroup = seriesCount(this.rollupSet, true, true) + 1;
    const fixed = fixedSeries + selfMetricCount(criticalCount > 0);
    let groupsPerTier = profile.limits.rollup_groups_per_tier;
    if (fixed + (tiersPresent * groupsPerTier + 1) * perGroup > cap) groupsPerTier = 1;
    let budget = cap - fixed - (tiersPresent * groupsPerTier + 1) * perGroup;
    for (const group of byPriority) {
      group.sort((a, b) => b.composite - a.composite || a.p.pid - b.p.pid);
      for (const v of group) {
        const s = this.seriesOf(v, this.otherSet);
        if (s <= budget) {
          v.kept = true;
          v.series = s;
          budget -= s;
        } else {
          v.reason = `${v.reason} over the series cap`;
        }
      }
    }
    // Whatever kept its own series this interval is an incumbent for the next top-K, whichever rule
    // kept it: a process hovering around a threshold does not flap between its series and a rollup.
    for (const group of byPriority) for (const v of group) v.mem.inTopK = v.kept;

    // Optional reservoir sample of the tail: a few processes exported individually with their weight.
    const sampleSize = profile.sampling.reservoir_size;
    let sampleWeight = 0;
    if (sampleSize > 0) {
      const tail = views.filter((v) => !v.kept);
      // By a hash of the identity alone: the same processes stay sampled while they live (no churn).
      const picked = tail.map((v) => ({ v, h: fnv1a(v.known.seriesKey) })).sort((a, b) => a.h - b.h || a.v.p.pid - b.v.p.pid).slice(0, sampleSize);
      let sampled = 0;
      for (const { v } of picked) {
        const s = this.seriesOf(v, this.otherSet);
        if (s > budget) break;
        budget -= s;
        v.kept = true;
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
      const set = v.known.critical || v.known.forced ? this.criticalSet : this.otherSet;
      if (v.known.critical) keptCritical++;
      keptCpu += v.dCpuUser + v.dCpuSystem;
      keptRss += v.p.rss_bytes;
      const k = v.known;
      if (v.sampled) {
        // A sampled process loses its high-cardinality attributes and carries its weight.
        const attributes = processAttributes(v.p, host, v.tier, v.importance, null);
        delete attributes['process.executable.path'];
        attributes['nrdot.sample.weight'] = sampleWeight;
        resources.push({ kind: 'process', attributes, metrics: buildMetrics(set, this.seriesValues(v, snapshot.host.cpus)), seriesKey: k.seriesKey });
      } else if (k.attributes === null) {
        k.attributes = processAttributes(v.p, host, v.tier, v.importance, profile.command_lines ? k.redacted : null);
        k.attributesSize = attributesSize(k.attributes);
        k.attributesBilled = billedAttributesBytes(k.attributes);
      }
      if (!v.sampled) resources.push({
        kind: 'process',
        attributes: k.attributes!,
        metrics: buildMetrics(set, this.seriesValues(v, snapshot.host.cpus)),
        attributesSize: k.attributesSize,
        attributesBilled: k.attributesBilled,
        seriesKey: k.seriesKey,
      });
      // Totals its own series leave out (balanced keeps no IO for non-critical processes).
      const r = this.rollupSet;
      if (set.cpuStates.length < r.cpuStates.length || (r.memoryUsage && !set.memoryUsage) || (set.ioDirections.length < r.ioDirections.length && v.dIoRead !== null)) {
        uncarried.push(v);
      }
    }
    const rollup = buildRollups({
      members: rolled,
      uncarried: uncarried.map((v) => ({ member: v, set: v.known.critical || v.known.forced ? this.criticalSet : this.otherSet })),
      by: profile.limits.rollup_by,
      groupsPerTier,
      minShare: profile.limits.min_share,
      attributes: (tier, group) => this.groupAttributes(host, tier, group),
      set: this.rollupSet,
      carry: state.rollups,
      t,
      intervalStart,
    });
    resources.push(...rollup.resources);
    // A process the series cap refused says which rule would have kept it.
    for (const v of rolled) v.reason = `rollup:${v.rollup}${v.reason ? ` (${v.reason})` : ''}`;

    // Stage 4: KPIs, with the self-metrics counted in (they are billed too).
    const interval = intervalStart !== null ? t - intervalStart : this.config.cost_model.collection_interval_seconds;
    const perHour = 3600 / interval;
    const cost = (datapoints: number, billed: number): number =>
      this.config.cost_model.billing_model === 'bytes'
        ? (billed * perHour * this.config.cost_model.per_gb) / 1e9
        : (datapoints * perHour * this.config.cost_model.per_million_datapoints) / 1e6;
    const coverage = criticalCount > 0 ? keptCritical / criticalCount : null;
    const provisional = selfResource(host, {
      profile: this.profileName, seriesBaseline: 0, seriesKept: 0, coverageCritical: coverage, costPerHourBaseline: 0, costPerHourOptimized: 0, reduction: 0, processes: 0,
    });
    let datapoints = datapointCount(provisional);
    let billed = billedBytes(provisional);
    for (const r of resources) {
      datapoints += datapointCount(r);
      billed += billedBytes(r);
    }
    const bytes = requestSize(resources) + requestSize([provisional]);
    const costBaseline = cost(baseline.datapoints, baseline.billedBytes);
    const costOptimized = cost(datapoints, billed);
    const reductionBytes = baseline.billedBytes > 0 ? 1 - billed / baseline.billedBytes : 0;
    const self = selfResource(host, {
      profile: this.profileName,
      seriesBaseline: baseline.datapoints,
      seriesKept: datapoints,
      coverageCritical: coverage,
      costPerHourBaseline: costBaseline,
      costPerHourOptimized: costOptimized,
      reduction: this.config.cost_model.billing_model === 'bytes' ? reductionBytes : baseline.datapoints > 0 ? 1 - datapoints / baseline.datapoints : 0,
      processes: views.length,
    });
    resources.push(self);

    const seriesUnique = trackSeries(state.seriesSeen, state.seriesUnique, resources, t);
    let totalCpu = 0;
    let anomalies = 0;
    for (const v of views) {
      totalCpu += v.dCpuUser + v.dCpuSystem;
      if (v.anomaly) anomalies++;
    }
    const visibilityCpu = totalCpu > 0 ? keptCpu / totalCpu : null;
    const visibilityMemory = sumRss > 0 ? keptRss / sumRss : 1;
    const kpis: Kpis = {
      timestamp: t,
      profile: this.profileName,
      processes: views.length,
      series_baseline: baseline.datapoints,
      series_exported: datapoints,
      series_unique_24h: seriesUnique,
      datapoints_baseline: baseline.datapoints,
      datapoints_exported: datapoints,
      bytes_baseline: baseline.bytes,
      bytes_exported: bytes,
      billed_bytes_baseline: baseline.billedBytes,
      billed_bytes_exported: billed,
      reduction_datapoints: baseline.datapoints > 0 ? 1 - datapoints / baseline.datapoints : 0,
      reduction_bytes: reductionBytes,
      coverage_critical: coverage,
      critical_processes: criticalCount,
      visibility_cpu: visibilityCpu,
      visibility_memory: visibilityMemory,
      visibility: visibilityCpu === null ? visibilityMemory : Math.min(visibilityCpu, visibilityMemory),
      totals_error: totalsError(views, resources),
      cost_per_hour_baseline: costBaseline,
      cost_per_hour_optimized: costOptimized,
      kept: views.length - rolled.length,
      rolled_up: rolled.length,
      anomalies,
      critical_over_cap: fixedSeries > cap,
      series_over_cap: datapoints > cap,
    };

    const decide = (): Decision[] => views.map((v) => ({
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
      anomalyUntil: v.anomaly ? v.mem.anomalyUntil : null,
      series: v.kept ? v.series : 0,
    }));
    // Forget identities that were not in this snapshot.
    // An identity missing from a snapshot (hidden for a moment, or a gap in a recording) keeps its
    // memory for a while, so that its usage meanwhile is counted when it is seen again.
    for (const [pid, mem] of processes) if (t - mem.t > FORGET_AFTER) processes.delete(pid);
    for (const [pid, k] of this.known) if (processes.get(pid)?.start !== k.start) this.known.delete(pid);
    const batch: Batch = { timestamp: t, intervalStart, resources };
    return {
      batch,
      kpis,
      state: { timestamp: t, processes, rollups: rollup.carry, seriesSeen: state.seriesSeen, seriesUnique },
      decisions: options.decisions === false ? [] : decide(),
    };
  }

  private classify(p: ProcessSample): Known {
    const k = this.known.get(p.pid);
    if (k && k.start === p.start_time && k.name === p.name && k.exe === p.exe && k.cmdline === p.cmdline && k.user === p.user && k.ppid === p.ppid) return k;
    const c = this.classifier.classify(p);
    const fresh: Known = {
      tier: c.tier,
      importance: c.importance,
      critical: c.critical,
      forced: c.forced,
      name: p.name,
      exe: p.exe,
      cmdline: p.cmdline,
      user: p.user,
      ppid: p.ppid,
      redacted: this.redactor.redact(p.cmdline),
      attributes: null,
      attributesSize: 0,
      attributesBilled: 0,
      baseline: null,
      start: p.start_time,
      seriesKey: `p${identityKey(p)}`,
      group: groupName(p),
    };
    this.known.set(p.pid, fresh);
    return fresh;
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
      }
      this.groups.clear();
    }
    return this.baselineCalc!;
  }

  private seriesOf(v: View, set: MetricSet): number {
    return seriesCount(set, v.p.io_read_bytes !== null, v.p.fds !== null);
  }

  private seriesValues(v: View, cpus: number) {
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
}

export interface RunOptions {
  /** Build the per-process decisions (default true). */
  decisions?: boolean;
}

function newView(p: ProcessSample, known: Known, mem: ProcessMemory): View {
  return {
    p, known, mem, seenBefore: false, anomaly: false, incumbent: false, reason: '', kept: false, sampled: false, series: 0,
    tier: known.tier, importance: known.importance, group: known.group, rollup: '', composite: 0,
    dCpuUser: 0, dCpuSystem: 0, dIoRead: null, dIoWrite: null, cpuPercent: 0, ioBytesPerSec: 0,
    dCtxVoluntary: 0, dCtxInvoluntary: 0, dMinorFaults: 0, dMajorFaults: 0,
  };
}

/** FNV-1a, 32 bits: a stable, seedless hash for the deterministic sample. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function newMemory(start: number): ProcessMemory {
  return {
    start,
    t: 0, cpuUser: 0, cpuSystem: 0, ioRead: null, ioWrite: null, ctxVoluntary: 0, ctxInvoluntary: 0, minorFaults: 0, majorFaults: 0,
    cpuMean: 0, cpuVar: 0, rssMean: 0, rssVar: 0, samples: 0, pending: false, pendingCpu: 0, pendingRss: 0, anomalyUntil: 0, inTopK: false,
  };
}

/**
 * Distinct series over the last 24 h, counted per resource (its datapoints are its series). The map
 * is kept in order of last sighting (a resource seen again moves to the end), so forgetting the ones
 * older than a day only walks the stale head. It is updated in place: a run consumes its state.
 */
function trackSeries(seen: Map<string, SeriesSighting>, unique: number, resources: ResourceSeries[], t: number): number {
  for (const r of resources) {
    const id = r.seriesKey ?? (r.kind === 'rollup' ? `r${r.attributes['nrdot.tier']}/${r.attributes['process.executable.name']}` : 's');
    const count = datapointCount(r);
    const entry = seen.get(id);
    if (entry) {
      seen.delete(id);
      if (count > entry.count) {
        unique += count - entry.count;
        entry.count = count;
      }
      entry.last = t;
      seen.set(id, entry);
    } else {
      seen.set(id, { last: t, count });
      unique += count;
    }
  }
  for (const [id, entry] of seen) {
    if (entry.last > t - DAY) break;
    seen.delete(id);
    unique -= entry.count;
  }
  return unique;
}

/** Worst relative difference between the exported totals and the input's (memory, CPU and IO deltas). */
function totalsError(views: View[], resources: ResourceSeries[]): number {
  let inRss = 0;
  let inCpu = 0;
  let inIo = 0;
  for (const v of views) {
    inRss += v.p.rss_bytes;
    inCpu += v.dCpuUser + v.dCpuSystem;
    inIo += (v.dIoRead ?? 0) + (v.dIoWrite ?? 0);
  }
  let outRss = 0;
  let outCpu = 0;
  let outIo = 0;
  let ioExported = false;
  for (const r of resources) {
    if (r.kind === 'self') continue;
    for (const m of r.metrics) {
      for (const p of m.points) {
        if (m.name === 'process.memory.usage') outRss += p.value;
        else if (m.name === 'process.cpu.time') outCpu += p.value;
        else if (m.name === 'process.disk.io') {
          outIo += p.value;
          ioExported = true;
        }
      }
    }
  }
  const rel = (out: number, input: number): number => (input === 0 ? (out === 0 ? 0 : 1) : Math.abs(out - input) / input);
  return Math.max(rel(outRss, inRss), rel(outCpu, inCpu), ioExported ? rel(outIo, inIo) : 0);
}
