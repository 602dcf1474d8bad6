/**
 * The pipeline's data: what it decides per process, the series it exports (the OpenTelemetry data
 * model, before encoding), the KPIs, and the state carried from one interval to the next.
 */

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

export interface MetricPoint {
  attributes: Attributes | null;
  /** Gauges: the value. Sums: the delta over the interval. */
  value: number;
  /** Sums only: the cumulative value since `start` (never goes backwards). */
  cumulative?: number;
  /** Sums only: unix seconds the cumulative value counts from. */
  start?: number;
}

export interface Metric {
  name: string;
  unit: string;
  description: string;
  kind: 'sum' | 'gauge';
  monotonic: boolean;
  /** Integer values are encoded as integers (counts), the others as doubles. */
  integer: boolean;
  points: MetricPoint[];
}

export interface ResourceSeries {
  kind: 'process' | 'rollup' | 'self';
  /** Shared between intervals for the same process: never mutate. */
  attributes: Attributes;
  metrics: Metric[];
  /** Precomputed sizes of the attributes (protobuf, billed), when the pipeline has them. */
  attributesSize?: number;
  attributesBilled?: number;
  /** Identity of the resource for series counting. */
  seriesKey?: string;
}

/** What the pipeline exports for one interval. */
export interface Batch {
  /** The snapshot's timestamp (unix seconds): every datapoint's time. */
  timestamp: number;
  /** The previous snapshot's timestamp: the start of the interval's deltas (null: first interval). */
  intervalStart: number | null;
  resources: ResourceSeries[];
}

export type DecisionAction = 'keep' | 'sample' | 'rollup';

/** What happened to one process in one interval, and why, with the numbers behind it. */
export interface Decision {
  pid: number;
  name: string;
  startTime: number;
  tier: string;
  importance: number;
  action: DecisionAction;
  /** critical, force_collect, anomaly, threshold:cpu|memory|io, top-k, rollup:<tier>/<group>, ... */
  reason: string;
  cpuPercent: number;
  rssBytes: number;
  ioBytesPerSec: number;
  composite: number;
  /** Seen in an earlier snapshot (younger processes can be kept only as critical or anomalous). */
  seenBefore: boolean;
  anomalyUntil: number | null;
  series: number;
  /** Rolled up: the figures of the rules it missed; null when kept or sampled. */
  missed: Missed | null;
}

/**
 * Where a rolled-up process left the path to a series of its own: younger than one interval; no
 * top-K candidate (the noise tier, a tier below min importance, below min_share); a candidate not
 * chosen (outside the top-K by composite, or within it but held out by an incumbent's 25% margin);
 * or chosen by a rule (anomaly, threshold, top-K) but refused by the series cap.
 */
export type Dropped = 'young' | 'noise' | 'importance' | 'idle' | 'rank' | 'incumbent' | 'cap';

/** What a rolled-up process missed: the thresholds (against its usage above), a top-K place, and why. */
export interface Missed {
  /** The profile's thresholds: at or above any one, a process seen before is kept. */
  thresholds: { cpu_percent: number; memory_mb: number; io_kb_per_sec: number };
  /** Its rank by composite among its tier's top-K candidates, and the tier's K; null when it was no candidate. */
  top_k: { tier: string; rank: number; candidates: number; k: number } | null;
  dropped: Dropped;
  /** `dropped` in words, e.g. "an incumbent kept its place (a challenger needs +25%)". */
  why: string;
}

export interface Kpis {
  timestamp: number;
  profile: string;
  processes: number;
  series_baseline: number;
  series_exported: number;
  series_unique_24h: number;
  datapoints_baseline: number;
  datapoints_exported: number;
  bytes_baseline: number;
  bytes_exported: number;
  billed_bytes_baseline: number;
  billed_bytes_exported: number;
  reduction_datapoints: number;
  reduction_bytes: number;
  /** Share of critical processes exported individually; null when the host has none. */
  coverage_critical: number | null;
  critical_processes: number;
  /** null when the interval has no CPU deltas to share (the first one). */
  visibility_cpu: number | null;
  visibility_memory: number;
  visibility: number;
  /** Worst relative difference between exported and input totals (memory, CPU and IO deltas). */
  totals_error: number;
  cost_per_hour_baseline: number;
  cost_per_hour_optimized: number;
  kept: number;
  rolled_up: number;
  anomalies: number;
  /** Critical processes alone exceed the series cap (they are never cut). */
  critical_over_cap: boolean;
  /** The interval's series exceed the cap all the same (critical processes and minimal rollups). */
  series_over_cap: boolean;
  /** The agent's CPU share of one core since the previous interval, in percent (null: not measured). */
  agent_cpu_percent: number | null;
  /** The agent's resident memory (null: not measured, e.g. offline). */
  agent_rss_bytes: number | null;
}

/** Per process identity (pid + start), carried between intervals. */
export interface ProcessMemory {
  /** start_time: with the pid (the map's key), the identity. */
  start: number;
  t: number;
  cpuUser: number;
  cpuSystem: number;
  ioRead: number | null;
  ioWrite: number | null;
  ctxVoluntary: number;
  ctxInvoluntary: number;
  minorFaults: number;
  majorFaults: number;
  cpuMean: number;
  cpuVar: number;
  rssMean: number;
  rssVar: number;
  samples: number;
  /** An outlier was seen last interval and awaits confirmation: its values, held out of the statistics. */
  pending: boolean;
  pendingCpu: number;
  pendingRss: number;
  anomalyUntil: number;
  /** Kept individually in the last interval: an incumbent for the top-K. */
  inTopK: boolean;
}

/**
 * What a profile itself remembers of an identity: how long it keeps an anomaly, and whether the
 * process held its own series last interval (top-K incumbency). A Pipeline keeps it in the
 * ProcessMemory (which has these fields); a ProfileSet per profile.
 */
export interface ProfileMemory {
  start: number;
  anomalyUntil: number;
  inTopK: boolean;
}

/** A rollup group's cumulative counters: its deltas added up since `start` (never backwards). */
export interface RollupCarry {
  cpuUser: number;
  cpuSystem: number;
  ioRead: number;
  ioWrite: number;
  ctxVoluntary: number;
  ctxInvoluntary: number;
  minorFaults: number;
  majorFaults: number;
  start: number;
  /** Last interval the group existed (carries unused for a day are forgotten). */
  last: number;
}

/** The state between intervals. A run consumes the state it is given: pass each state once. */
export interface PipelineState {
  /** Timestamp of the previous snapshot, or null before the first. */
  timestamp: number | null;
  /** By pid; an entry whose `start` differs from the process's start_time belongs to an earlier identity. */
  processes: Map<number, ProcessMemory>;
  /** Cumulative counters per rollup group, so that they never go backwards. */
  rollups: Map<string, RollupCarry>;
  /** Resources exported in the last 24 h: when last seen and how many series they carried. */
  seriesSeen: Map<string, SeriesSighting>;
  /** Sum of their series: series_unique_24h. */
  seriesUnique: number;
}

export interface SeriesSighting {
  last: number;
  count: number;
}

export function emptyState(): PipelineState {
  return { timestamp: null, processes: new Map(), rollups: new Map(), seriesSeen: new Map(), seriesUnique: 0 };
}

export interface PipelineResult {
  batch: Batch;
  /** One per process, unless the run was asked not to build them (then empty). */
  decisions: Decision[];
  kpis: Kpis;
  state: PipelineState;
}
