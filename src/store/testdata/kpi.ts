/** A realistic interval's KPIs (a 1000-process host in `balanced`), for the store's tests and its crash-test child. */
import type { KpiRecord } from '../types.js';

export function kpi(time: number, over: Partial<KpiRecord> = {}): KpiRecord {
  return {
    time,
    profile: 'balanced',
    processes: 1000,
    series_baseline: 7000,
    series_exported: 640,
    series_unique_24h: 910,
    datapoints_baseline: 7000,
    datapoints_exported: 640,
    bytes_baseline: 1_450_000,
    bytes_exported: 98_000,
    billed_bytes_baseline: 9_800_000,
    billed_bytes_exported: 610_000,
    reduction_datapoints: 0.9086,
    reduction_bytes: 0.9378,
    coverage_critical: 1,
    visibility: 0.81,
    visibility_cpu: 0.86,
    visibility_memory: 0.81,
    totals_error: 0,
    cost_per_hour_baseline: 1.06,
    cost_per_hour_optimized: 0.066,
    agent_cpu_percent: 0.42,
    agent_rss_bytes: 61_000_000,
    kept: 88,
    rolled_up: 912,
    anomalies: 1,
    ...over,
  };
}
