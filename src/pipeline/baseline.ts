/**
 * The baseline (SPEC, "Vocabulary"): what the stock OpenTelemetry hostmetrics process scraper would
 * have sent for the same snapshot. Every reduction is measured against it. Computed arithmetically
 * per process: its metrics block is the same for every process, only the attributes differ.
 */
import { billedAttributesBytes, BILLED_POINT_OVERHEAD, keyValueSize, metricSize } from '../otlp/size.js';
import type { ProcessSample } from '../snapshot/types.js';
import type { Attributes, Metric, ResourceSeries } from './types.js';

const SCRAPER_SCOPE = 'github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/processscraper';
const SCRAPER_VERSION = '0.116.0';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}
const delimited = (n: number): number => 1 + varintSize(n) + n;

/** The stock scraper's instrumentation scope. */
export const SCRAPER = { name: SCRAPER_SCOPE, version: SCRAPER_VERSION } as const;

/** The scraper's metrics for one process; values (cumulative, as it sends them) from the sample if given. */
function scraperMetrics(withIo: boolean, p?: ProcessSample): Metric[] {
  const values = p
    ? [p.cpu_user_seconds, p.cpu_system_seconds, 0, p.rss_bytes, p.vms_bytes, p.io_read_bytes ?? 0, p.io_write_bytes ?? 0]
    : [0, 0, 0, 0, 0, 0, 0];
  let next = 0;
  const start = p?.start_time;
  const point = (attributes: Attributes | null) => {
    const value = values[next++]!;
    return start === undefined ? { attributes, value } : { attributes, value, cumulative: value, start };
  };
  const metrics: Metric[] = [
    {
      name: 'process.cpu.time', unit: 's', description: 'Total CPU seconds broken down by different states.', kind: 'sum', monotonic: true, integer: false,
      points: [point({ state: 'user' }), point({ state: 'system' }), point({ state: 'wait' })],
    },
    { name: 'process.memory.usage', unit: 'By', description: 'The amount of physical memory in use.', kind: 'sum', monotonic: false, integer: true, points: [point(null)] },
    { name: 'process.memory.virtual', unit: 'By', description: 'Virtual memory size.', kind: 'sum', monotonic: false, integer: true, points: [point(null)] },
  ];
  if (withIo) {
    metrics.push({
      name: 'process.disk.io', unit: 'By', description: 'Disk bytes transferred.', kind: 'sum', monotonic: true, integer: true,
      points: [point({ direction: 'read' }), point({ direction: 'write' })],
    });
  }
  return metrics;
}

interface Block {
  datapoints: number;
  /** ScopeMetrics body size. */
  scopeMetrics: number;
  /** Billed bytes of the points apart from the resource attributes. */
  billedPoints: number;
}

function block(withIo: boolean): Block {
  const metrics = scraperMetrics(withIo);
  let size = delimited(delimited(SCRAPER_SCOPE.length) + delimited(SCRAPER_VERSION.length));
  let datapoints = 0;
  let billedPoints = 0;
  for (const m of metrics) {
    size += metricSize(m);
    for (const p of m.points) {
      datapoints++;
      billedPoints += m.name.length + billedAttributesBytes(p.attributes) + BILLED_POINT_OVERHEAD;
    }
  }
  return { datapoints, scopeMetrics: size, billedPoints };
}

const PID_KEYS = 'process.pid'.length + 'process.parent_pid'.length;

export interface BaselineFigures {
  datapoints: number;
  bytes: number;
  billedBytes: number;
}

/** The scraper's string resource attributes of a process, empty ones left out (as it does). */
function scraperStringAttributes(p: ProcessSample, add: (key: string, value: string) => void): void {
  const put = (key: string, value: string): void => {
    if (value !== '') add(key, value);
  };
  put('process.executable.name', p.name);
  put('process.executable.path', p.exe);
  put('process.owner', p.user);
  if (p.cmdline !== '') {
    const space = p.cmdline.indexOf(' ');
    put('process.command', space < 0 ? p.cmdline : p.cmdline.slice(0, space));
    put('process.command_line', p.cmdline);
  }
}

/**
 * The scraper's resource for one process, with its values: what the baseline's bytes count, built for
 * real (the export benchmark compresses it; a test checks that its encoding has the size counted).
 */
export function baselineResource(host: Attributes, p: ProcessSample): ResourceSeries {
  const attributes: Attributes = { ...host, 'process.pid': p.pid, 'process.parent_pid': p.ppid };
  scraperStringAttributes(p, (key, value) => (attributes[key] = value));
  return { kind: 'process', attributes, metrics: scraperMetrics(p.io_read_bytes !== null, p) };
}

/** Per-host baseline calculator: attribute sizes per process, the rest precomputed. */
export class Baseline {
  private readonly withIo = block(true);
  private readonly withoutIo = block(false);
  private readonly hostSize: number;
  private readonly hostBilled: number;

  constructor(host: Attributes) {
    let size = 0;
    for (const k in host) size += keyValueSize(k, host[k]!);
    this.hostSize = size;
    this.hostBilled = billedAttributesBytes(host);
  }

  /** One process's baseline (it depends only on static attributes: callers cache it per identity). */
  measure(p: ProcessSample): BaselineFigures {
    const b = p.io_read_bytes !== null ? this.withIo : this.withoutIo;
    let attrs = this.hostSize + keyValueSize('process.pid', p.pid) + keyValueSize('process.parent_pid', p.ppid);
    let billed = this.hostBilled + PID_KEYS + String(p.pid).length + String(p.ppid).length;
    scraperStringAttributes(p, (key, value) => {
      attrs += keyValueSize(key, value);
      billed += key.length + Buffer.byteLength(value, 'utf8');
    });
    return {
      datapoints: b.datapoints,
      bytes: delimited(delimited(attrs + 2) + delimited(b.scopeMetrics)),
      billedBytes: b.datapoints * billed + b.billedPoints,
    };
  }
}
