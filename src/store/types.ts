/** The values the state store takes and returns: one declaration each, shared by the store and its callers. */
import type { Kpis } from '../pipeline/index.js';

/** Who changed something, when (unix seconds), and why: every profile change carries one. */
export interface ChangeContext {
  time: number;
  who: string;
  reason: string;
  /**
   * The profile in force before and after, to journal when the stored state alone does not tell
   * it (a time rule or the emergency guard over the stored profile); default: the stored ones.
   */
  inForce?: { from: string | null; to: string };
}

/** A manual pin: the profile in force whatever the loop or the schedule says, until `until` (null: no expiry). */
export interface Pin {
  profile: string;
  /** Unix seconds; null pins until unpinned. The store does not expire pins: the control loop clears them. */
  until: number | null;
  since: number;
  who: string;
  reason: string;
}

export interface ProfileState {
  /** The profile set by operators or the control loop; null until the first one is set (then the config's default applies). */
  active: string | null;
  pin: Pin | null;
}

/** One profile change: from and to are the profiles in force before and after (a pin wins over the active profile). */
export interface JournalEntry {
  id: number;
  time: number;
  from: string | null;
  to: string;
  reason: string;
  who: string;
}

/** The KPIs the history keeps (the pipeline's names and meanings: src/pipeline/types.ts). */
export type StoredKpi =
  | 'profile' | 'processes' | 'series_baseline' | 'series_exported' | 'series_unique_24h' | 'datapoints_baseline' | 'datapoints_exported'
  | 'bytes_baseline' | 'bytes_exported' | 'billed_bytes_baseline' | 'billed_bytes_exported' | 'reduction_datapoints' | 'reduction_bytes'
  | 'coverage_critical' | 'visibility' | 'visibility_cpu' | 'visibility_memory' | 'totals_error' | 'cost_per_hour_baseline'
  | 'cost_per_hour_optimized' | 'agent_cpu_percent' | 'agent_rss_bytes' | 'kept' | 'rolled_up' | 'anomalies';

/**
 * One interval's KPIs (SPEC, "KPIs, self-metrics and the cost model"), as the control loop and the
 * reports read them. `time`: unix seconds of the data (the snapshot), not of the wall clock, so that a
 * replay keeps its own times.
 */
export type KpiRecord = { time: number } & Pick<Kpis, StoredKpi>;

/** The KPIs kept for a shadow profile's interval: what `profile compare` and the control loop read. */
export type ShadowKpi =
  | 'profile' | 'series_exported' | 'datapoints_exported' | 'billed_bytes_exported' | 'bytes_exported' | 'cost_per_hour_optimized'
  | 'cost_per_hour_baseline' | 'coverage_critical' | 'visibility' | 'reduction_datapoints' | 'reduction_bytes' | 'kept' | 'rolled_up'
  | 'anomalies';

/**
 * One shadow profile's KPIs for one interval: what it would have exported had it been in force, run
 * on the same snapshot as the profile that was. A KpiRecord is one too (it has every field).
 */
export type ShadowKpiRecord = { time: number } & Pick<Kpis, ShadowKpi>;

/** A window of data time (unix seconds, both inclusive; open when left out). */
export interface CompareQuery {
  since?: number;
  until?: number;
}

/**
 * One profile over a window: its intervals in force (kpi_raw: measured on what was exported) and as a
 * shadow (what it would have exported), taken together. Means are per interval; a per-hour cost is
 * already normalized to the interval's length. `coverage_critical_min` is null when no interval had
 * a critical process.
 */
export interface ProfileComparison {
  profile: string;
  intervals: { real: number; shadow: number };
  /** Data time of the first and last interval counted. */
  first: number;
  last: number;
  cost_per_hour_mean: number;
  cost_per_hour_max: number;
  cost_per_hour_baseline_mean: number;
  series_exported_mean: number;
  series_exported_max: number;
  datapoints_exported_mean: number;
  reduction_datapoints_mean: number;
  reduction_bytes_mean: number;
  coverage_critical_min: number | null;
  visibility_mean: number;
  visibility_min: number;
}

/**
 * A row of KPI history. A raw row is one interval; an hourly row (`time` = the UTC hour's start) has
 * the hour's averages under the KpiRecord names (a nullable field's average counts only its non-null
 * samples, and is null when all were null), and `profile` is the one with the most samples. The
 * extremes are there for both (a raw row's are its own values) so that a chart reads them the same way.
 */
export type KpiHistoryRow = KpiRecord & {
  resolution: 'raw' | 'hour';
  /** Intervals in the row: 1 for a raw row. */
  samples: number;
  /** The profiles in force and their number of intervals. */
  profiles: Record<string, number>;
  series_exported_max: number;
  agent_rss_bytes_max: number | null;
  agent_cpu_percent_max: number | null;
  coverage_critical_min: number | null;
  visibility_min: number;
};

export interface KpiHistoryQuery {
  /** Unix seconds, inclusive (an hourly row is selected by its hour's start). */
  since?: number;
  /** Unix seconds, inclusive. */
  until?: number;
  resolution: 'raw' | 'hour';
  /** At most this many rows: the newest ones in the range, still returned oldest first. */
  limit?: number;
}

/** An alert waiting in (or delivered from) the outbox. Times are unix seconds. */
export interface AlertRow {
  id: number;
  event: string;
  payload: unknown;
  created: number;
  attempts: number;
  nextAttempt: number;
  /** When it was last tried; null before the first attempt. */
  lastAttempt: number | null;
  /** When it was delivered; null while pending. */
  delivered: number | null;
  lastError: string | null;
}

/** One evaluation of the control loop, with what it saw and what it did. */
export interface DecisionInput {
  time: number;
  inputs: unknown;
  /** What the loop did, e.g. "hold", "step", "emergency", "frozen". */
  outcome: string;
  from: string | null;
  to: string | null;
  reason: string;
}

export interface DecisionRow extends DecisionInput {
  id: number;
}

/** A page of a time-ordered list: entries at or after `since` (unix seconds), at most `limit`. */
export interface TimeQuery {
  since?: number;
  limit?: number;
}

export interface PipelineStateRecord {
  blob: Buffer;
  /** Unix seconds of the snapshot the state follows. */
  timestamp: number;
  /** Where the snapshots came from (e.g. "procfs:/proc" or a recording's path): a state is only resumed from the same one. */
  source: string;
}

/** Rows deleted by one pruning. */
export interface PruneResult {
  raw: number;
  hourly: number;
  /** Shadow profiles' rows (7 days, as the raw KPIs). */
  shadow: number;
  decisions: number;
  alerts: number;
}

export interface OpenOptions {
  /** For the CLI: nothing is created, migrated or written; the file must exist. */
  readonly?: boolean;
}
