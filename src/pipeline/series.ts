/**
 * Building the exported series: one resource per kept process, one per rollup group, one for the
 * agent's self-metrics; semantic-convention names and units (SPEC, "Export").
 */
import type { HostInfo, ProcessSample } from '../snapshot/types.js';
import type { MetricSet } from './metricset.js';
import type { Attributes, Metric, MetricPoint, ResourceSeries } from './types.js';

/** New Relic's limit on attribute values. */
export const MAX_ATTRIBUTE_LENGTH = 4095;

export function truncate(value: string): string {
  if (value.length <= MAX_ATTRIBUTE_LENGTH) return value;
  // Never cut between the two halves of a surrogate pair.
  const high = value.charCodeAt(MAX_ATTRIBUTE_LENGTH - 1);
  return value.slice(0, high >= 0xd800 && high <= 0xdbff ? MAX_ATTRIBUTE_LENGTH - 1 : MAX_ATTRIBUTE_LENGTH);
}

const STATE_USER: Attributes = { state: 'user' };
const STATE_SYSTEM: Attributes = { state: 'system' };
const DIR_READ: Attributes = { direction: 'read' };
const DIR_WRITE: Attributes = { direction: 'write' };
const CTX_VOLUNTARY: Attributes = { type: 'voluntary' };
const CTX_INVOLUNTARY: Attributes = { type: 'involuntary' };
const FAULT_MAJOR: Attributes = { type: 'major' };
const FAULT_MINOR: Attributes = { type: 'minor' };

function sum(name: string, unit: string, description: string, integer: boolean, points: MetricPoint[]): Metric {
  return { name, unit, description, kind: 'sum', monotonic: true, integer, points };
}

function gauge(name: string, unit: string, description: string, integer: boolean, value: number, attributes: Attributes | null = null): Metric {
  return { name, unit, description, kind: 'gauge', monotonic: false, integer, points: [{ attributes, value }] };
}

/** The values one resource's metrics are built from: a process or the sum over a rollup's members. */
export interface SeriesValues {
  dCpuUser: number;
  dCpuSystem: number;
  cpuUser: number;
  cpuSystem: number;
  rssBytes: number;
  vmsBytes: number;
  /** null: unreadable (the io metrics are left out). */
  dIoRead: number | null;
  dIoWrite: number | null;
  ioRead: number | null;
  ioWrite: number | null;
  cpuUtilization: number;
  threads: number;
  fds: number | null;
  dCtxVoluntary: number;
  dCtxInvoluntary: number;
  ctxVoluntary: number;
  ctxInvoluntary: number;
  dMajorFaults: number;
  dMinorFaults: number;
  majorFaults: number;
  minorFaults: number;
  /** Unix seconds the cumulative values count from. */
  start: number;
}

export function buildMetrics(set: MetricSet, v: SeriesValues): Metric[] {
  const metrics: Metric[] = [];
  if (set.cpuStates.length > 0) {
    const points: MetricPoint[] = [];
    for (const state of set.cpuStates) {
      if (state === 'user') points.push({ attributes: STATE_USER, value: v.dCpuUser, cumulative: v.cpuUser, start: v.start });
      else points.push({ attributes: STATE_SYSTEM, value: v.dCpuSystem, cumulative: v.cpuSystem, start: v.start });
    }
    metrics.push(sum('process.cpu.time', 's', 'Total CPU seconds broken down by different states.', false, points));
  }
  if (set.memoryUsage) metrics.push(gauge('process.memory.usage', 'By', 'The amount of physical memory in use.', true, v.rssBytes));
  if (set.memoryVirtual) metrics.push(gauge('process.memory.virtual', 'By', 'Virtual memory size.', true, v.vmsBytes));
  if (set.ioDirections.length > 0 && v.dIoRead !== null && v.dIoWrite !== null && v.ioRead !== null && v.ioWrite !== null) {
    const points: MetricPoint[] = [];
    for (const dir of set.ioDirections) {
      if (dir === 'read') points.push({ attributes: DIR_READ, value: v.dIoRead, cumulative: v.ioRead, start: v.start });
      else points.push({ attributes: DIR_WRITE, value: v.dIoWrite, cumulative: v.ioWrite, start: v.start });
    }
    metrics.push(sum('process.disk.io', 'By', 'Disk bytes transferred.', true, points));
  }
  if (set.cpuUtilization) {
    metrics.push(gauge('process.cpu.utilization', '1', 'Share of the host\'s CPU capacity used.', false, v.cpuUtilization));
  }
  if (set.threads) metrics.push(gauge('process.threads', '{thread}', 'Process threads count.', true, v.threads));
  if (set.openFds && v.fds !== null) {
    metrics.push(gauge('process.open_file_descriptors', '{count}', 'Number of file descriptors in use by the process.', true, v.fds));
  }
  if (set.contextSwitches) {
    metrics.push(
      sum('process.context_switches', '{count}', 'Number of times the process has been context switched.', true, [
        { attributes: CTX_VOLUNTARY, value: v.dCtxVoluntary, cumulative: v.ctxVoluntary, start: v.start },
        { attributes: CTX_INVOLUNTARY, value: v.dCtxInvoluntary, cumulative: v.ctxInvoluntary, start: v.start },
      ]),
    );
  }
  if (set.pagingFaults) {
    metrics.push(
      sum('process.paging.faults', '{fault}', 'Number of page faults the process has made.', true, [
        { attributes: FAULT_MAJOR, value: v.dMajorFaults, cumulative: v.majorFaults, start: v.start },
        { attributes: FAULT_MINOR, value: v.dMinorFaults, cumulative: v.minorFaults, start: v.start },
      ]),
    );
  }
  return metrics;
}

export function hostAttributes(host: HostInfo): Attributes {
  return { 'host.name': truncate(host.name), 'host.id': truncate(host.id) };
}

/** The resource attributes of a process kept individually (SPEC, "Export"). */
export function processAttributes(
  p: ProcessSample,
  host: Attributes,
  tier: string,
  importance: number,
  commandLine: string | null,
): Attributes {
  const a: Attributes = {
    ...host,
    'process.pid': p.pid,
    'process.parent_pid': p.ppid,
    'process.executable.name': truncate(p.name),
  };
  if (p.exe !== '') a['process.executable.path'] = truncate(p.exe);
  if (commandLine !== null && commandLine !== '') {
    const space = commandLine.indexOf(' ');
    a['process.command'] = truncate(space < 0 ? commandLine : commandLine.slice(0, space));
    a['process.command_line'] = truncate(commandLine);
  }
  if (p.user !== '') a['process.owner'] = truncate(p.user);
  a['nrdot.tier'] = tier;
  a['nrdot.importance'] = importance;
  return a;
}

export function rollupAttributes(host: Attributes, tier: string, importance: number, group: string): Attributes {
  return { ...host, 'nrdot.rollup': true, 'nrdot.tier': tier, 'nrdot.importance': importance, 'process.executable.name': truncate(group) };
}

export interface SelfMetricValues {
  profile: string;
  seriesBaseline: number;
  seriesKept: number;
  coverageCritical: number | null;
  costPerHourBaseline: number;
  costPerHourOptimized: number;
  reduction: number;
  processes: number;
}

/** Number of datapoints the self resource carries (they are billed too), counted from the resource. */
export function selfMetricCount(coverageKnown: boolean): number {
  const r = selfResource({}, { profile: '', seriesBaseline: 0, seriesKept: 0, coverageCritical: coverageKnown ? 1 : null, costPerHourBaseline: 0, costPerHourOptimized: 0, reduction: 0, processes: 0 });
  return r.metrics.reduce((n, m) => n + m.points.length, 0);
}

/** The agent's self-metrics for the interval (SPEC, "KPIs, self-metrics and the cost model"). */
export function selfResource(host: Attributes, v: SelfMetricValues, extra: readonly Metric[] = []): ResourceSeries {
  const metrics: Metric[] = [
    gauge('nrdot.process.series.baseline', '{series}', 'Series the stock OpenTelemetry process scraper would have sent.', true, v.seriesBaseline),
    gauge('nrdot.process.series.kept', '{series}', 'Series exported this interval.', true, v.seriesKept),
    gauge('nrdot.process.count', '{process}', 'Processes on the host.', true, v.processes),
    {
      name: 'nrdot.estimated.cost_per_hour',
      unit: '{USD}/h',
      description: 'Estimated ingest cost per hour at this interval\'s volume.',
      kind: 'gauge',
      monotonic: false,
      integer: false,
      points: [
        { attributes: { kind: 'baseline' }, value: v.costPerHourBaseline },
        { attributes: { kind: 'optimized' }, value: v.costPerHourOptimized },
      ],
    },
    gauge('nrdot.optimization.reduction', '1', 'Reduction of billed volume against the baseline.', false, v.reduction),
    gauge('nrdot.profile.active', '1', 'The optimization profile in force.', true, 1, { 'nrdot.profile': v.profile }),
  ];
  if (v.coverageCritical !== null) {
    metrics.splice(2, 0, gauge('nrdot.process.coverage.critical', '1', 'Share of critical processes exported individually.', false, v.coverageCritical));
  }
  metrics.push(...extra);
  return { kind: 'self', attributes: { 'service.name': 'nrdot-plus', ...host }, metrics };
}
