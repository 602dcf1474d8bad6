// Agents' own metrics (OTLP) to KPIs: which metric is which KPI (the table is in README.md).
// Pure: the receiver (ingest.ts) looks the agents up and stores what this returns.
import type { KeyValue as OtlpKeyValue, AnyValue as OtlpAnyValue } from './gen/otlp_common_pb.js';
import type { ExportMetricsServiceRequest } from './gen/otlp_metrics_service_pb.js';
import type { AgentKpis } from '../store/types.js';

/** The resource attribute naming the agent: its OpAMP instance UID. */
export const INSTANCE_ATTRIBUTE = 'service.instance.id';
export const HUB_PREFIX = 'nrdot.hub.';

type Plain = string | number | boolean;

function plain(v: OtlpAnyValue | undefined): Plain | null {
  const x = v?.value;
  switch (x?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return x.value;
    case 'intValue':
      return Number(x.value);
    default:
      return null;
  }
}

function attrs(kvs: readonly OtlpKeyValue[]): Record<string, Plain> {
  const out: Record<string, Plain> = {};
  for (const kv of kvs) {
    const p = plain(kv.value);
    if (p !== null) out[kv.key] = p;
  }
  return out;
}

/** One agent's points of one interval (one timestamp), by KPI key. */
export interface IntervalValues {
  timeMs: number;
  values: Record<string, number>;
  profile: string | null;
}

export interface ParsedResource {
  /** The service.instance.id as sent ('' when absent). */
  instanceUid: string;
  intervals: IntervalValues[];
  /** Data points in this resource (nrdot ones and others), for rejection counts. */
  points: number;
}

/** The metric naming the profile in force by its `nrdot.profile` attribute (value 1). */
const PROFILE_METRIC = 'nrdot.profile.active';

/** KPI key of a point, or null when the hub does not keep it. Keys are AgentKpis field names,
 * `shadowCostPerHour.<profile>`, or the metric name (with its attributes) for extras. */
export function kpiKey(name: string, a: Record<string, Plain>): { key: string; scale?: number } | null {
  switch (name) {
    case 'nrdot.estimated.cost_per_hour':
      return a.kind === 'baseline' ? { key: 'costPerHourBaseline' } : a.kind === 'optimized' ? { key: 'costPerHourOptimized' } : null;
    case 'nrdot.hub.datapoints':
      return a.kind === 'baseline' ? { key: 'datapointsBaseline' } : a.kind === 'exported' ? { key: 'datapointsExported' } : null;
    case 'nrdot.optimization.reduction':
      return { key: 'reduction' };
    case 'nrdot.process.coverage.critical':
      return { key: 'coverageCritical' };
    case 'nrdot.hub.visibility':
      return { key: 'visibility' };
    case 'nrdot.agent.cpu.utilization':
      // The agent reports a share of one core; the registry shows percent.
      return { key: 'agentCpuPercent', scale: 100 };
    case 'nrdot.agent.memory.rss':
      return { key: 'agentRssBytes' };
    case 'nrdot.process.series.baseline':
    case 'nrdot.process.series.kept':
      return { key: name };
    case 'nrdot.hub.shadow.cost_per_hour':
      return typeof a['nrdot.profile'] === 'string' ? { key: `shadowCostPerHour.${a['nrdot.profile']}` } : null;
    default:
      if (!name.startsWith(HUB_PREFIX)) return null;
      {
        const keys = Object.keys(a).sort();
        return { key: keys.length === 0 ? name : `${name}{${keys.map((k) => `${k}=${String(a[k])}`).join(',')}}` };
      }
  }
}

export function parseRequest(req: ExportMetricsServiceRequest): ParsedResource[] {
  const out: ParsedResource[] = [];
  for (const rm of req.resourceMetrics) {
    const resource = attrs(rm.resource?.attributes ?? []);
    const byTime = new Map<number, IntervalValues>();
    let points = 0;
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const dps = m.data.case === 'gauge' || m.data.case === 'sum' ? m.data.value.dataPoints : [];
        for (const dp of dps) {
          points++;
          const value = dp.value.case === 'asDouble' ? dp.value.value : dp.value.case === 'asInt' ? Number(dp.value.value) : null;
          if (value === null || !Number.isFinite(value)) continue;
          const a = attrs(dp.attributes);
          const timeMs = Number(dp.timeUnixNano / 1_000_000n);
          let iv = byTime.get(timeMs);
          if (!iv) byTime.set(timeMs, (iv = { timeMs, values: {}, profile: null }));
          if (m.name === PROFILE_METRIC) {
            if (value > 0 && typeof a['nrdot.profile'] === 'string') iv.profile = a['nrdot.profile'];
            continue;
          }
          const k = kpiKey(m.name, a);
          if (k) iv.values[k.key] = value * (k.scale ?? 1);
        }
      }
    }
    const uid = resource[INSTANCE_ATTRIBUTE];
    out.push({ instanceUid: typeof uid === 'string' ? uid : '', intervals: [...byTime.values()].sort((x, y) => x.timeMs - y.timeMs), points });
  }
  return out;
}

const FIELDS = [
  'costPerHourBaseline',
  'costPerHourOptimized',
  'datapointsBaseline',
  'datapointsExported',
  'reduction',
  'coverageCritical',
  'visibility',
  'agentCpuPercent',
  'agentRssBytes',
] as const;

/** The registry's latest KPIs from one interval's values. */
export function agentKpisOf(iv: IntervalValues, fallbackProfile: string | null): AgentKpis {
  const kpis: AgentKpis = {
    timeMs: iv.timeMs,
    profile: iv.profile ?? fallbackProfile,
    costPerHourBaseline: null,
    costPerHourOptimized: null,
    datapointsBaseline: null,
    datapointsExported: null,
    reduction: null,
    coverageCritical: null,
    visibility: null,
    agentCpuPercent: null,
    agentRssBytes: null,
    shadowCostPerHour: {},
    extra: {},
  };
  for (const [k, v] of Object.entries(iv.values)) {
    if ((FIELDS as readonly string[]).includes(k)) kpis[k as (typeof FIELDS)[number]] = v;
    else if (k.startsWith('shadowCostPerHour.')) kpis.shadowCostPerHour[k.slice('shadowCostPerHour.'.length)] = v;
    else kpis.extra[k] = v;
  }
  return kpis;
}

/** The fleet group of an agent: its labels sorted, "k=v,k=v" ('' without labels). */
export function groupOf(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
