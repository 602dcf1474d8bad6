/**
 * Anomaly detection (SPEC, "Profiles"): per identity, an exponentially weighted mean and variance of
 * CPU and RSS. After the warm-up, a value beyond mean + k standard deviations that also moved by at
 * least the minimum change marks an anomaly, once confirmed by the next interval.
 */
import type { Config } from '../config/index.js';
import type { ProcessMemory } from './types.js';

export interface AnomalySettings {
  enabled: boolean;
  alpha: number;
  k: number;
  warmup: number;
  minCpuPercent: number;
  minRssBytes: number;
}

export function anomalySettings(config: Config): AnomalySettings {
  const v = config.advanced.variance_detection;
  return {
    enabled: config.advanced.ewma.enabled && v.enabled,
    alpha: config.advanced.ewma.alpha,
    k: v.threshold_multiplier,
    warmup: v.warmup_intervals,
    minCpuPercent: v.min_cpu_percent_change,
    minRssBytes: v.min_memory_mb_change * 1024 * 1024,
  };
}

function beyond(x: number, mean: number, variance: number, k: number, minChange: number): boolean {
  return x - mean >= minChange && x > mean + k * Math.sqrt(variance);
}

/** Incremental EWMA of mean and variance (West, 1979). */
function fold(m: ProcessMemory, cpuPercent: number, rssBytes: number, alpha: number): void {
  const dc = cpuPercent - m.cpuMean;
  m.cpuMean += alpha * dc;
  m.cpuVar = (1 - alpha) * (m.cpuVar + alpha * dc * dc);
  const dr = rssBytes - m.rssMean;
  m.rssMean += alpha * dr;
  m.rssVar = (1 - alpha) * (m.rssVar + alpha * dr * dr);
}

/**
 * Checks the new values against the statistics so far, then folds them in. Returns whether this
 * interval confirms an anomaly. An outlier must be seen in two consecutive intervals: the first is
 * held out of the statistics (so that the second is judged against the same baseline), then folded
 * in, so that a single burst, common in busy workers, counts as ordinary variation. A lasting anomaly is thus
 * reported one interval after it starts. `m` is updated in place (it is this interval's memory).
 */
export function observe(m: ProcessMemory, cpuPercent: number, rssBytes: number, s: AnomalySettings): boolean {
  if (m.samples === 0) {
    m.cpuMean = cpuPercent;
    m.rssMean = rssBytes;
    m.cpuVar = 0;
    m.rssVar = 0;
    m.samples = 1;
    return false;
  }
  const outlier =
    s.enabled &&
    m.samples >= s.warmup &&
    (beyond(cpuPercent, m.cpuMean, m.cpuVar, s.k, s.minCpuPercent) || beyond(rssBytes, m.rssMean, m.rssVar, s.k, s.minRssBytes));
  if (outlier && !m.pending) {
    m.pending = true;
    m.pendingCpu = cpuPercent;
    m.pendingRss = rssBytes;
    return false;
  }
  const confirmed = outlier && m.pending;
  if (m.pending) {
    // The held-out values join the statistics now, before this interval's.
    fold(m, m.pendingCpu, m.pendingRss, s.alpha);
    m.samples++;
    m.pending = false;
  }
  fold(m, cpuPercent, rssBytes, s.alpha);
  m.samples++;
  return confirmed;
}
