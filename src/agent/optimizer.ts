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
import { emptyState, Pipeline, type AgentUsage, type Decision, type Kpis, type Metric, type PipelineState } from '../pipeline/index.js';
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
  private pipeline: Pipeline;
  /** The Prometheus exposition of the latest interval (empty before the first). */
  prometheusText = '';
  /** The latest interval's KPIs and per-process decisions (for status, explain and top). */
  lastKpis: Kpis | null = null;
  lastDecisions: Decision[] = [];
  /** The self-metrics from outside the pipeline that the latest interval carried (the shadow profiles count them too). */
  lastExtraSelf: readonly Metric[] = [];

  constructor(
    private config: Config,
    private profileName: string,
    private readonly exporters: Exporters,
    private pipelineState: PipelineState = emptyState(),
  ) {
    this.pipeline = new Pipeline(config, profileName);
  }

  get profile(): string {
    return this.profileName;
  }

  /** The pipeline of the profile in force (the shadow profiles decide on what its latest run observed). */
  get activePipeline(): Pipeline {
    return this.pipeline;
  }

  /** The state after the latest interval (the next run consumes it: encode it, do not keep it). */
  get state(): PipelineState {
    return this.pipelineState;
  }

  /** Switches the profile from the next interval on; the pipeline state carries over. */
  setProfile(profile: string): void {
    if (profile === this.profileName) return;
    this.profileName = profile;
    this.pipeline = new Pipeline(this.config, profile);
  }

  /** A reloaded configuration, from the next interval on. */
  setConfig(config: Config, profile: string): void {
    this.config = config;
    this.profileName = profile;
    this.pipeline = new Pipeline(config, profile);
  }

  /** Optimizes one snapshot, exports the batch and returns the interval's KPIs. */
  process(snapshot: Snapshot, extra: { agent?: AgentUsage; extraSelf?: Metric[]; cadenceSeconds?: number } = {}): Kpis {
    const { file, otlp } = this.exporters;
    const extraSelf = [...(otlp?.metrics.metrics() ?? []), ...(extra.extraSelf ?? [])];
    const result = this.pipeline.run(snapshot, this.pipelineState, { decisions: true, extraSelf, agent: extra.agent, cadenceSeconds: extra.cadenceSeconds });
    this.pipelineState = result.state;
    this.lastKpis = result.kpis;
    this.lastDecisions = result.decisions;
    this.lastExtraSelf = extraSelf;
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
