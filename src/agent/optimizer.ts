/**
 * The agent's data path after the receiver: each snapshot through the pipeline of the active profile,
 * then to the exporters (the OTLP delivery queue, the file, and the exposition `/metrics` serves). The
 * pipeline state lives here between intervals.
 */
import type { Config } from '../config/index.js';
import { renderPrometheus, type FileExporter } from '../export/index.js';
import type { DeliveryMetrics, OtlpHttpSender } from '../export/otlp-http.js';
import { MAX_REQUEST_BYTES, type OtlpSettings } from '../export/otlp-settings.js';
import type { DurableQueue } from '../export/queue.js';
import { buildRequests } from '../export/requests.js';
import { encodeProtobuf, toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type Kpis, type PipelineState } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';

/** The OTLP/HTTP exporter's parts: batches go to the queue, the sender drains it. */
export interface OtlpExport {
  settings: OtlpSettings;
  queue: DurableQueue;
  sender: OtlpHttpSender;
  metrics: DeliveryMetrics;
}

export interface Exporters {
  file: FileExporter | null;
  otlp: OtlpExport | null;
}

export class Optimizer {
  private readonly pipeline: Pipeline;
  private state: PipelineState = emptyState();
  /** The Prometheus exposition of the latest interval (empty before the first). */
  prometheusText = '';

  constructor(
    private readonly config: Config,
    readonly profile: string,
    private readonly exporters: Exporters,
  ) {
    this.pipeline = new Pipeline(config, profile);
  }

  /** Optimizes one snapshot, exports the batch and returns the interval's KPIs. */
  process(snapshot: Snapshot): Kpis {
    const { file, otlp } = this.exporters;
    const result = this.pipeline.run(snapshot, this.state, { decisions: false, extraSelf: otlp?.metrics.metrics() });
    this.state = result.state;
    const { batch } = result;
    this.prometheusText = renderPrometheus(batch, result.kpis);
    if (file) file.write(JSON.stringify(toOtlpJson(batch.resources, batch, otlp?.settings.temporality ?? this.config.exporters.otlp.temporality)));
    // Last: a queue that cannot take the batch (disk full) fails the interval's OTLP, not the rest.
    if (otlp) {
      const parts = batch.resources.map((r) => encodeProtobuf([r], batch, otlp.settings.temporality));
      const { bodies, oversize } = buildRequests(parts, otlp.settings.compression, MAX_REQUEST_BYTES);
      for (const body of bodies) otlp.queue.enqueue(body);
      otlp.sender.dropOversize(oversize);
      otlp.sender.wake();
    }
    return result.kpis;
  }
}
