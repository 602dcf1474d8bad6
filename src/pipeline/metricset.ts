/**
 * Metric sets: which semantic-convention metrics (and which states/directions of them) a series
 * carries, resolved once per profile from the configuration's selectors.
 */
import type { MetricSelector } from '../config/index.js';

export interface MetricSet {
  cpuStates: Array<'user' | 'system'>;
  memoryUsage: boolean;
  memoryVirtual: boolean;
  ioDirections: Array<'read' | 'write'>;
  cpuUtilization: boolean;
  threads: boolean;
  openFds: boolean;
  contextSwitches: boolean;
  pagingFaults: boolean;
}

/**
 * `process.cpu.time` has a `wait` state in the OpenTelemetry scraper; snapshots carry no iowait
 * figure, so only user and system are exported (the baseline still counts the scraper's three).
 */
export function resolveMetricSet(selectors: readonly MetricSelector[]): MetricSet {
  const has = (s: MetricSelector): boolean => selectors.includes(s);
  const cpuStates: MetricSet['cpuStates'] = [];
  if (has('process.cpu.time') || has('process.cpu.time:user')) cpuStates.push('user');
  if (has('process.cpu.time') || has('process.cpu.time:system')) cpuStates.push('system');
  const ioDirections: MetricSet['ioDirections'] = [];
  if (has('process.disk.io') || has('process.disk.io:read')) ioDirections.push('read');
  if (has('process.disk.io') || has('process.disk.io:write')) ioDirections.push('write');
  return {
    cpuStates,
    memoryUsage: has('process.memory.usage'),
    memoryVirtual: has('process.memory.virtual'),
    ioDirections,
    cpuUtilization: has('process.cpu.utilization'),
    threads: has('process.threads'),
    openFds: has('process.open_file_descriptors'),
    contextSwitches: has('process.context_switches'),
    pagingFaults: has('process.paging.faults'),
  };
}

/** Union of two sets (a rollup carries what its members' series would, plus the totals metrics). */
export function unionMetricSets(a: MetricSet, b: MetricSet): MetricSet {
  const states = (['user', 'system'] as const).filter((s) => a.cpuStates.includes(s) || b.cpuStates.includes(s));
  const dirs = (['read', 'write'] as const).filter((d) => a.ioDirections.includes(d) || b.ioDirections.includes(d));
  return {
    cpuStates: [...states],
    memoryUsage: a.memoryUsage || b.memoryUsage,
    memoryVirtual: a.memoryVirtual || b.memoryVirtual,
    ioDirections: [...dirs],
    cpuUtilization: a.cpuUtilization || b.cpuUtilization,
    threads: a.threads || b.threads,
    openFds: a.openFds || b.openFds,
    contextSwitches: a.contextSwitches || b.contextSwitches,
    pagingFaults: a.pagingFaults || b.pagingFaults,
  };
}

/** Datapoints (= series) one process's resource carries with this set. */
export function seriesCount(set: MetricSet, hasIo: boolean, hasFds: boolean): number {
  return (
    set.cpuStates.length +
    (set.memoryUsage ? 1 : 0) +
    (set.memoryVirtual ? 1 : 0) +
    (hasIo ? set.ioDirections.length : 0) +
    (set.cpuUtilization ? 1 : 0) +
    (set.threads ? 1 : 0) +
    (set.openFds && hasFds ? 1 : 0) +
    (set.contextSwitches ? 2 : 0) +
    (set.pagingFaults ? 2 : 0)
  );
}
