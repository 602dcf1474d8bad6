/**
 * Stage 4: the interval's KPIs (SPEC, "KPIs, self-metrics and the cost model") and the self-metrics
 * resource. Exported datapoints, bytes and cost include the self-metrics: they are billed too.
 */
import type { Config } from '../config/index.js';
import { billedBytes, datapointCount, requestSize } from '../otlp/size.js';
import type { BaselineFigures } from './baseline.js';
import { selfResource } from './series.js';
import type { Attributes, Kpis, Metric, ResourceSeries, SeriesSighting } from './types.js';

const DAY = 86400;

export interface KpiInput {
  config: Config;
  profile: string;
  host: Attributes;
  t: number;
  intervalStart: number | null;
  /** Process and rollup resources (the self-metrics are added here). */
  resources: ResourceSeries[];
  baseline: BaselineFigures;
  processes: number;
  criticalCount: number;
  keptCritical: number;
  keptCpu: number;
  totalCpu: number;
  keptRss: number;
  totalRss: number;
  rolledUp: number;
  anomalies: number;
  fixedSeries: number;
  cap: number;
  totalsError: number;
  seriesSeen: Map<string, SeriesSighting>;
  seriesUnique: number;
  /** Self-metrics from outside the pipeline (the exporter's delivery counters), sent and billed too. */
  extraSelf: readonly Metric[];
  agent: { cpuPercent: number | null; rssBytes: number } | null;
  /** Seconds between intervals for the per-hour cost, when the caller knows its cadence. */
  cadence: number | null;
}

export function intervalKpis(k: KpiInput): { kpis: Kpis; self: ResourceSeries; seriesUnique: number } {
  const model = k.config.cost_model;
  const interval = k.cadence ?? (k.intervalStart !== null ? k.t - k.intervalStart : model.collection_interval_seconds);
  const perHour = 3600 / interval;
  const cost = (datapoints: number, billed: number): number =>
    model.billing_model === 'bytes' ? (billed * perHour * model.per_gb) / 1e9 : (datapoints * perHour * model.per_million_datapoints) / 1e6;
  const coverage = k.criticalCount > 0 ? k.keptCritical / k.criticalCount : null;
  // The self-metrics' size does not depend on their values: measure a provisional resource first.
  const provisional = selfResource(k.host, {
    profile: k.profile, seriesBaseline: 0, seriesKept: 0, coverageCritical: coverage, costPerHourBaseline: 0, costPerHourOptimized: 0, reduction: 0, processes: 0,
  }, k.extraSelf);
  let datapoints = datapointCount(provisional);
  let billed = billedBytes(provisional);
  for (const r of k.resources) {
    datapoints += datapointCount(r);
    billed += billedBytes(r);
  }
  const bytes = requestSize(k.resources) + requestSize([provisional]);
  const costBaseline = cost(k.baseline.datapoints, k.baseline.billedBytes);
  const costOptimized = cost(datapoints, billed);
  const reductionDatapoints = k.baseline.datapoints > 0 ? 1 - datapoints / k.baseline.datapoints : 0;
  const reductionBytes = k.baseline.billedBytes > 0 ? 1 - billed / k.baseline.billedBytes : 0;
  const self = selfResource(k.host, {
    profile: k.profile,
    seriesBaseline: k.baseline.datapoints,
    seriesKept: datapoints,
    coverageCritical: coverage,
    costPerHourBaseline: costBaseline,
    costPerHourOptimized: costOptimized,
    reduction: model.billing_model === 'bytes' ? reductionBytes : reductionDatapoints,
    processes: k.processes,
  }, k.extraSelf);
  const seriesUnique = trackSeries(k.seriesSeen, k.seriesUnique, [...k.resources, self], k.t);
  const visibilityCpu = k.totalCpu > 0 ? k.keptCpu / k.totalCpu : null;
  const visibilityMemory = k.totalRss > 0 ? k.keptRss / k.totalRss : 1;
  const kpis: Kpis = {
    timestamp: k.t,
    profile: k.profile,
    processes: k.processes,
    series_baseline: k.baseline.datapoints,
    series_exported: datapoints,
    series_unique_24h: seriesUnique,
    datapoints_baseline: k.baseline.datapoints,
    datapoints_exported: datapoints,
    bytes_baseline: k.baseline.bytes,
    bytes_exported: bytes,
    billed_bytes_baseline: k.baseline.billedBytes,
    billed_bytes_exported: billed,
    reduction_datapoints: reductionDatapoints,
    reduction_bytes: reductionBytes,
    coverage_critical: coverage,
    critical_processes: k.criticalCount,
    visibility_cpu: visibilityCpu,
    visibility_memory: visibilityMemory,
    visibility: visibilityCpu === null ? visibilityMemory : Math.min(visibilityCpu, visibilityMemory),
    totals_error: k.totalsError,
    cost_per_hour_baseline: costBaseline,
    cost_per_hour_optimized: costOptimized,
    kept: k.processes - k.rolledUp,
    rolled_up: k.rolledUp,
    anomalies: k.anomalies,
    critical_over_cap: k.fixedSeries > k.cap,
    series_over_cap: datapoints > k.cap,
    agent_cpu_percent: k.agent?.cpuPercent ?? null,
    agent_rss_bytes: k.agent?.rssBytes ?? null,
  };
  return { kpis, self, seriesUnique };
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
export interface TotalsInput {
  p: { rss_bytes: number };
  dCpuUser: number;
  dCpuSystem: number;
  dIoRead: number | null;
  dIoWrite: number | null;
}

export function totalsError(views: readonly TotalsInput[], resources: ResourceSeries[]): number {
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
