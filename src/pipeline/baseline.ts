/**
 * The baseline (SPEC, "Vocabulary"): what the stock OpenTelemetry hostmetrics process scraper would
 * have sent for the same snapshot. Every reduction is measured against it. Computed arithmetically
 * per process: its metrics block is the same for every process, only the attributes differ.
 */
import { billedAttributesBytes, BILLED_POINT_OVERHEAD, keyValueSize, metricSize } from '../otlp/size.js';
import type { ProcessSample } from '../snapshot/types.js';
import type { Attributes, Metric } from './types.js';

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

function scraperMetrics(withIo: boolean): Metric[] {
  const point = (attributes: Attributes | null) => ({ attributes, value: 0 });
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

export interface BaselineFigures {
  datapoints: number;
  bytes: number;
  billedBytes: number;
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

  /** Adds one process's baseline to `into`. */
  add(p: ProcessSample, into: BaselineFigures): void {
    const b = p.io_read_bytes !== null ? this.withIo : this.withoutIo;
    let attrs = this.hostSize + keyValueSize('process.pid', p.pid) + keyValueSize('process.parent_pid', p.ppid);
    let billed = this.hostBilled + 'process.pid'.length + String(p.pid).length + 'process.parent_pid'.length + String(p.ppid).length;
    const strings: Array<[string, string]> = [['process.executable.name', p.name], ['process.executable.path', p.exe], ['process.owner', p.user]];
    if (p.cmdline !== '') {
      const space = p.cmdline.indexOf(' ');
      strings.push(['process.command', space < 0 ? p.cmdline : p.cmdline.slice(0, space)], ['process.command_line', p.cmdline]);
    }
    for (const [k, v] of strings) {
      if (v === '') continue;
      attrs += keyValueSize(k, v);
      billed += k.length + Buffer.byteLength(v, 'utf8');
    }
    into.datapoints += b.datapoints;
    into.bytes += delimited(delimited(attrs + 2) + delimited(b.scopeMetrics));
    into.billedBytes += b.datapoints * (billed + 0) + b.billedPoints;
  }
}
