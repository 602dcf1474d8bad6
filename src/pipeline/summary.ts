/**
 * A run's KPIs added up over many intervals: what `simulate` prints per profile. Sums of volumes,
 * worst coverage and totals error, mean visibility; costs as the mean hourly cost times 730 h.
 */
import type { Kpis } from './types.js';

export const HOURS_PER_MONTH = 730;

export interface ProfileSummary {
  profile: string;
  intervals: number;
  datapoints_baseline: number;
  datapoints_exported: number;
  reduction_datapoints: number;
  /** New Relic billed bytes (estimate: every datapoint with all its attributes). */
  bytes_baseline: number;
  bytes_exported: number;
  reduction_bytes: number;
  /** OTLP protobuf bytes, before compression. */
  otlp_bytes_baseline: number;
  otlp_bytes_exported: number;
  coverage_critical_min: number | null;
  visibility_cpu_mean: number;
  visibility_memory_mean: number;
  totals_error_max: number;
  cost_per_month_baseline: number;
  cost_per_month_optimized: number;
  series_exported_mean: number;
  series_unique_24h_max: number;
  /** Distinct series over the last day per series exported in an interval: 1 means no churn. */
  series_churn: number;
  anomaly_intervals: number;
  critical_over_cap_intervals: number;
  series_over_cap_intervals: number;
}

export class Summary {
  private n = 0;
  private dpBase = 0;
  private dpOut = 0;
  private bBase = 0;
  private bOut = 0;
  private oBase = 0;
  private oOut = 0;
  private coverageMin: number | null = null;
  private visCpu = 0;
  private visCpuN = 0;
  private visMem = 0;
  private errMax = 0;
  private costBase = 0;
  private costOut = 0;
  private uniqueMax = 0;
  private anomalies = 0;
  private overCap = 0;
  private seriesOverCap = 0;

  constructor(readonly profile: string) {}

  add(k: Kpis): void {
    this.n++;
    this.dpBase += k.datapoints_baseline;
    this.dpOut += k.datapoints_exported;
    this.bBase += k.billed_bytes_baseline;
    this.bOut += k.billed_bytes_exported;
    this.oBase += k.bytes_baseline;
    this.oOut += k.bytes_exported;
    if (k.coverage_critical !== null) this.coverageMin = Math.min(this.coverageMin ?? 1, k.coverage_critical);
    if (k.visibility_cpu !== null) {
      this.visCpu += k.visibility_cpu;
      this.visCpuN++;
    }
    this.visMem += k.visibility_memory;
    this.errMax = Math.max(this.errMax, k.totals_error);
    this.costBase += k.cost_per_hour_baseline;
    this.costOut += k.cost_per_hour_optimized;
    this.uniqueMax = Math.max(this.uniqueMax, k.series_unique_24h);
    if (k.anomalies > 0) this.anomalies++;
    if (k.critical_over_cap) this.overCap++;
    if (k.series_over_cap) this.seriesOverCap++;
  }

  result(): ProfileSummary {
    const n = Math.max(this.n, 1);
    const seriesMean = this.dpOut / n;
    return {
      profile: this.profile,
      intervals: this.n,
      datapoints_baseline: this.dpBase,
      datapoints_exported: this.dpOut,
      reduction_datapoints: this.dpBase > 0 ? 1 - this.dpOut / this.dpBase : 0,
      bytes_baseline: this.bBase,
      bytes_exported: this.bOut,
      reduction_bytes: this.bBase > 0 ? 1 - this.bOut / this.bBase : 0,
      otlp_bytes_baseline: this.oBase,
      otlp_bytes_exported: this.oOut,
      coverage_critical_min: this.coverageMin,
      visibility_cpu_mean: this.visCpuN > 0 ? this.visCpu / this.visCpuN : 1,
      visibility_memory_mean: this.visMem / n,
      totals_error_max: this.errMax,
      cost_per_month_baseline: (this.costBase / n) * HOURS_PER_MONTH,
      cost_per_month_optimized: (this.costOut / n) * HOURS_PER_MONTH,
      series_exported_mean: seriesMean,
      series_unique_24h_max: this.uniqueMax,
      series_churn: seriesMean > 0 ? this.uniqueMax / seriesMean : 0,
      anomaly_intervals: this.anomalies,
      critical_over_cap_intervals: this.overCap,
      series_over_cap_intervals: this.seriesOverCap,
    };
  }
}
