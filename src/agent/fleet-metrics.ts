/**
 * Own metrics for the fleet hub (ConnectionSettingsOffers.own_metrics): every interval the agent's
 * self-metrics (cost per hour, reduction, critical coverage, the profile in force, its own CPU and
 * memory) plus the hub-only KPIs (`nrdot.hub.*`: datapoints and series baseline and exported,
 * visibility, anomalies, each shadow profile's cost and coverage, export health), as OTLP/HTTP protobuf with
 * `service.instance.id` = the instance UID, through a durable queue of their own (`hub-queue/` in the
 * data directory) and the same sender as the main export: a hub outage loses no KPI within the
 * queue's bound. None of this goes into the billed OTLP export.
 */
import { join } from 'node:path';
import type { Redactor } from '../config/secrets.js';
import { DurableQueue } from '../export/queue.js';
import { OtlpHttpSender } from '../export/otlp-http.js';
import { MAX_REQUEST_BYTES, type OtlpSettings, type TlsFiles } from '../export/otlp-settings.js';
import { buildRequests } from '../export/requests.js';
import { openTransport } from '../export/transport.js';
import { encodeProtobuf } from '../otlp/encode.js';
import type { Batch, Kpis, Metric } from '../pipeline/index.js';
import type { Logger } from './log.js';

/** The queue's bound: at ~3 KB a batch, days of KPIs. */
const QUEUE_MAX_BYTES = 16 * 1024 * 1024;
export const HUB_QUEUE_DIR = 'hub-queue';

export interface HubOffer {
  endpoint: string;
  headers: Record<string, string>;
}

export interface HubInterval {
  kpis: Kpis;
  shadows: readonly Kpis[];
  /** The agent's self-metrics of the interval (the billed export's own, sent to the hub too). */
  self: readonly Metric[];
  /** The batch's times (deltas start at intervalStart). */
  timestamp: number;
  intervalStart: number | null;
  /** Whether the OTLP export delivers (null: no OTLP export configured). */
  exportHealthy: boolean | null;
  resource: Record<string, string>;
}

const gauge = (name: string, unit: string, description: string, points: Array<{ value: number; attributes?: Record<string, string> }>): Metric => ({
  name,
  unit,
  description,
  kind: 'gauge',
  monotonic: false,
  integer: false,
  points: points.map((p) => ({ attributes: p.attributes ?? null, value: p.value })),
});

/** The hub-only KPIs of one interval (what rollout gates, `fleet status` and `fleet whatif` read). */
export function hubMetrics(i: Omit<HubInterval, 'self' | 'timestamp' | 'intervalStart' | 'resource'>): Metric[] {
  const k = i.kpis;
  const out: Metric[] = [
    gauge('nrdot.hub.datapoints', '{datapoint}', 'Datapoints of the interval: all processes (baseline) and as exported.', [
      { value: k.datapoints_baseline, attributes: { kind: 'baseline' } },
      { value: k.datapoints_exported, attributes: { kind: 'exported' } },
    ]),
    gauge('nrdot.hub.series', '{series}', 'Series of the interval: all processes (baseline) and as exported.', [
      { value: k.series_baseline, attributes: { kind: 'baseline' } },
      { value: k.series_exported, attributes: { kind: 'exported' } },
    ]),
    gauge('nrdot.hub.visibility', '1', 'Share of the host\'s CPU and memory on series of their own.', [{ value: k.visibility }]),
    gauge('nrdot.hub.anomalies', '{process}', 'Processes kept for an anomaly this interval.', [{ value: k.anomalies }]),
  ];
  if (i.exportHealthy !== null) out.push(gauge('nrdot.hub.export.healthy', '1', '1 while the OTLP export delivers, 0 while it fails.', [{ value: i.exportHealthy ? 1 : 0 }]));
  if (i.shadows.length > 0) {
    out.push(
      gauge(
        'nrdot.hub.shadow.cost_per_hour',
        '{currency}/h',
        'What each shadow profile would cost per hour on this host.',
        i.shadows.map((s) => ({ value: s.cost_per_hour_optimized, attributes: { 'nrdot.profile': s.profile } })),
      ),
      gauge(
        'nrdot.hub.shadow.coverage.critical',
        '1',
        'What each shadow profile would cover of the critical processes.',
        i.shadows.filter((s) => s.coverage_critical !== null).map((s) => ({ value: s.coverage_critical!, attributes: { 'nrdot.profile': s.profile } })),
      ),
    );
  }
  return out.filter((m) => m.points.length > 0);
}

/** The sender to the offered destination; replaced when the offer changes, stopped when it goes. */
export class HubMetricsSender {
  private current: { offer: HubOffer; queue: DurableQueue; sender: OtlpHttpSender } | null = null;
  private changing: Promise<void> = Promise.resolve();

  constructor(
    private readonly p: { dataDir: string; tls: TlsFiles; headers: Record<string, string>; log: Logger; redactor: Redactor },
  ) {}

  get endpoint(): string | null {
    return this.current?.sender.endpoint ?? null;
  }

  stats(): { endpoint: string; queue_batches: number; delivered: number; failed: number; dropped: number } | null {
    const c = this.current;
    return c ? { endpoint: c.sender.endpoint, queue_batches: c.queue.depth, delivered: c.sender.stats.delivered, failed: c.sender.stats.failed, dropped: c.queue.dropped } : null;
  }

  /** A new offer (or none): the previous sender stops, its queue stays on disk for the next. */
  setOffer(offer: HubOffer | null): Promise<void> {
    this.changing = this.changing.then(async () => {
      const old = this.current;
      this.current = null;
      if (old) {
        await old.sender.stop();
        old.queue.close();
      }
      if (!offer) return;
      const settings: OtlpSettings = {
        url: offer.endpoint,
        urlSource: 'the fleet hub (own_metrics)',
        // The hub's receiver takes the enrollment secret like its OpAMP endpoint; the offer's own headers win.
        headers: { ...this.p.headers, ...offer.headers },
        compression: 'gzip',
        timeoutMs: 10_000,
        temporality: 'delta',
        tls: this.p.tls,
        queueDir: join(this.p.dataDir, HUB_QUEUE_DIR),
        queueMaxBytes: QUEUE_MAX_BYTES,
        retryInitialMs: 2000,
        retryMaxMs: 120_000,
        maxRequestsPerSecond: 2,
        splayMs: 0,
        warnings: [],
      };
      this.p.redactor.add(Object.values(offer.headers));
      try {
        const queue = new DurableQueue({ dir: settings.queueDir, maxBytes: settings.queueMaxBytes });
        const sender = new OtlpHttpSender(settings, queue, this.p.log, await openTransport(settings.tls), this.p.redactor);
        sender.start();
        this.current = { offer, queue, sender };
        this.p.log.info({ own_metrics: sender.endpoint, queued_batches: queue.depth }, `own metrics and KPIs to the fleet hub at ${sender.endpoint} every interval (queue ${settings.queueDir})`);
      } catch (err) {
        this.p.log.warn({ queue: settings.queueDir }, `own metrics to the fleet hub are off: ${(err as Error).message}`);
      }
    });
    return this.changing;
  }

  /** Queues one interval's own metrics (nothing without an offer). */
  submit(i: HubInterval): void {
    const c = this.current;
    if (!c) return;
    const metrics = [...i.self, ...hubMetrics(i)];
    const batch: Batch = { timestamp: i.timestamp, intervalStart: i.intervalStart, resources: [{ kind: 'self', attributes: i.resource, metrics }] };
    const encoded = encodeProtobuf(batch.resources, batch, 'delta');
    const { bodies } = buildRequests([encoded], 'gzip', MAX_REQUEST_BYTES);
    c.sender.submit(bodies);
  }

  async stop(): Promise<void> {
    await this.setOffer(null);
  }
}
