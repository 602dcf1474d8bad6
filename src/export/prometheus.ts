/**
 * The Prometheus text exposition of the latest interval: the optimized process series and rollups
 * with their true types (counters cumulative and monotonic, per SPEC "Rollups"), and the self-metrics
 * under the names SPEC gives them. Written by hand: the client libraries model metrics that a process
 * increments, while these are values computed elsewhere, one resource per process or rollup.
 */
import type { Attributes, Batch, Kpis, Metric } from '../pipeline/index.js';
import { KEPT_TIER } from '../pipeline/rollup.js';

/** Resource attributes that become labels; command lines and paths stay out (cardinality, size). */
const LABELS: Array<[string, string]> = [
  ['process.pid', 'process_pid'],
  ['process.executable.name', 'process_executable_name'],
  ['process.owner', 'process_owner'],
  ['nrdot.tier', 'nrdot_tier'],
  ['nrdot.rollup', 'nrdot_rollup'],
];

const UNIT_SUFFIX: Record<string, string> = { s: '_seconds', By: '_bytes', '1': '_ratio' };

/** Names that the general rule would get wrong (a gauge may not end in `_count`). */
const RENAMED: Record<string, string> = { 'process.count': 'nrdot_rollup_processes' };

/** OpenTelemetry name and unit to a Prometheus name (dots to underscores, unit suffix, _total). */
export function prometheusName(m: Metric): string {
  const renamed = RENAMED[m.name];
  if (renamed) return renamed;
  let name = m.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const suffix = UNIT_SUFFIX[m.unit];
  if (suffix && !name.endsWith(suffix)) name += suffix;
  if (m.kind === 'sum' && m.monotonic) name += '_total';
  return name;
}

/** A label value as the exposition format writes it (backslash, quote and newline escaped). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Array<[string, string]>): string {
  return labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  samples: string[];
}

class Exposition {
  private readonly families = new Map<string, Family>();

  add(name: string, type: Family['type'], help: string, labels: Array<[string, string]>, value: number, unit = ''): void {
    let f = this.families.get(name);
    if (!f) this.families.set(name, (f = { type, help, samples: [] }));
    f.samples.push(`${name}${labelText(labels)} ${sampleValue(value, unit)}`);
  }

  text(): string {
    let out = '';
    for (const [name, f] of this.families) out += `# HELP ${name} ${f.help.replace(/\n/g, ' ')}\n# TYPE ${name} ${f.type}\n${f.samples.join('\n')}\n`;
    return out;
  }
}

/**
 * A value as Prometheus reads it, without the noise of float arithmetic, in the shortest form that
 * reads back the same. Seconds (CPU time: the kernel counts in 10 ms ticks) are rounded to the
 * microsecond: a rollup's counter is a sum of many deltas, each a difference of two large counters
 * (0.019999999999998 is 0.02). Other fractions (ratios, costs) keep 12 significant digits, which
 * drops the last bits of a division. Rounding to a grid or to a count of significant digits never
 * reverses an order, so a counter stays monotonic.
 */
export function sampleValue(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return '0';
  if (Number.isInteger(value)) return String(value);
  return String(unit === 's' ? Math.round(value * 1e6) / 1e6 : Number(value.toPrecision(12)));
}

function resourceLabels(a: Attributes): Array<[string, string]> {
  const labels: Array<[string, string]> = [];
  for (const [key, label] of LABELS) if (a[key] !== undefined) labels.push([label, String(a[key])]);
  return labels;
}

/** Renders one interval: its batch (process and rollup resources) and its KPIs. */
export function renderPrometheus(batch: Batch, kpis: Kpis): string {
  const e = new Exposition();
  const tiers = new Map<string, { kept: number; rolled: number }>();
  for (const r of batch.resources) {
    if (r.kind === 'self') {
      // The delivery counters and the agent's own usage come from outside the KPIs: the general rule.
      for (const m of r.metrics) {
        if (!m.name.startsWith('nrdot.export.') && !m.name.startsWith('nrdot.agent.')) continue;
        const counter = m.kind === 'sum' && m.monotonic;
        for (const p of m.points) e.add(prometheusName(m), counter ? 'counter' : 'gauge', m.description, [], counter ? (p.cumulative ?? p.value) : p.value, m.unit);
      }
      continue;
    }
    const labels = resourceLabels(r.attributes);
    const tier = String(r.attributes['nrdot.tier']);
    const t = tiers.get(tier) ?? { kept: 0, rolled: 0 };
    if (tier !== KEPT_TIER) tiers.set(tier, t); // the carrier of kept processes' totals is no tier
    for (const m of r.metrics) {
      const name = prometheusName(m);
      const counter = m.kind === 'sum' && m.monotonic;
      for (const p of m.points) {
        const point = p.attributes ? Object.entries(p.attributes).map(([k, v]): [string, string] => [k.replace(/\./g, '_'), String(v)]) : [];
        e.add(name, counter ? 'counter' : 'gauge', m.description, [...labels, ...point], counter ? (p.cumulative ?? p.value) : p.value, m.unit);
        if (m.name === 'process.count') t.rolled += p.value;
      }
    }
    if (r.kind === 'process') t.kept++;
  }
  e.add('nrdot_process_series_baseline', 'gauge', 'Series the stock OpenTelemetry process scraper would send for this interval.', [], kpis.series_baseline);
  e.add('nrdot_process_series_kept', 'gauge', 'Series exported for this interval, self-metrics included.', [], kpis.series_exported);
  if (kpis.coverage_critical !== null) {
    e.add('nrdot_process_coverage_critical', 'gauge', 'Share of critical processes exported individually.', [], kpis.coverage_critical);
  }
  e.add('nrdot_estimated_cost_per_hour', 'gauge', 'Estimated ingest cost per hour at this interval\'s volume.', [['kind', 'baseline']], kpis.cost_per_hour_baseline);
  e.add('nrdot_estimated_cost_per_hour', 'gauge', 'Estimated ingest cost per hour at this interval\'s volume.', [['kind', 'optimized']], kpis.cost_per_hour_optimized);
  const reduction = kpis.cost_per_hour_baseline > 0 ? 1 - kpis.cost_per_hour_optimized / kpis.cost_per_hour_baseline : 0;
  e.add('nrdot_optimization_reduction_percent', 'gauge', 'Reduction of the billed volume against the baseline, in percent.', [], reduction * 100);
  e.add('nrdot_profile_active', 'gauge', 'The optimization profile in force (value 1).', [['nrdot_profile', kpis.profile]], 1);
  e.add('nrdot_process_visibility', 'gauge', 'Share of CPU and memory carried by individual series (the smaller).', [], kpis.visibility);
  e.add('nrdot_process_anomalies', 'gauge', 'Processes inside an anomaly-retention window.', [], kpis.anomalies);
  for (const [tier, t] of [...tiers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    e.add('nrdot_tier_processes_kept', 'gauge', 'Processes of the tier exported individually.', [['nrdot_tier', tier]], t.kept);
    e.add('nrdot_tier_processes_rolled_up', 'gauge', 'Processes of the tier in rollups.', [['nrdot_tier', tier]], t.rolled);
  }
  return e.text();
}

/** One exporter's health, for renderHealth. */
export interface ExporterHealth {
  exporter: string;
  failing: boolean;
  /** Intervals it could not take since the agent started. */
  intervalsFailed: number;
}

/**
 * Each exporter's and the state store's health, served at /metrics beside the latest interval and
 * never sent in the billed OTLP export (SPEC: export health goes to /metrics only).
 */
export function renderHealth(exporters: ExporterHealth[], store: Omit<ExporterHealth, 'exporter'>): string {
  const e = new Exposition();
  for (const x of exporters) {
    e.add('nrdot_export_failing', 'gauge', 'Whether the exporter is failing (1) or not (0): OTLP retrying, refused for good since its last accepted batch, or its queue unable to store; the file unwritable.', [['exporter', x.exporter]], x.failing ? 1 : 0);
  }
  for (const x of exporters) {
    e.add('nrdot_export_intervals_failed_total', 'counter', 'Intervals the exporter could not take (the file not written, the OTLP batch not queued).', [['exporter', x.exporter]], x.intervalsFailed);
  }
  e.add('nrdot_store_failing', 'gauge', 'Whether writes to the state store fail (1) or not (0), a full disk say.', [], store.failing ? 1 : 0);
  e.add('nrdot_store_intervals_failed_total', 'counter', 'Intervals whose KPIs and pipeline state the state store could not take.', [], store.intervalsFailed);
  return e.text();
}
