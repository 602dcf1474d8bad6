/**
 * The agent's data path after the receiver: each snapshot through the pipeline of the active profile,
 * then to the exporters (the file, and the exposition `/metrics` serves). The pipeline state lives
 * here between intervals.
 */
import type { Config } from '../config/index.js';
import { renderPrometheus, type FileExporter } from '../export/index.js';
import { toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type Kpis, type PipelineState } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';

export class Optimizer {
  private readonly pipeline: Pipeline;
  private state: PipelineState = emptyState();
  /** The Prometheus exposition of the latest interval (empty before the first). */
  prometheusText = '';

  constructor(
    private readonly config: Config,
    readonly profile: string,
    private readonly file: FileExporter | null,
  ) {
    this.pipeline = new Pipeline(config, profile);
  }

  /** Optimizes one snapshot, exports the batch and returns the interval's KPIs. */
  process(snapshot: Snapshot): Kpis {
    const result = this.pipeline.run(snapshot, this.state, { decisions: false });
    this.state = result.state;
    if (this.file) {
      this.file.write(JSON.stringify(toOtlpJson(result.batch.resources, result.batch, this.config.exporters.otlp.temporality)));
    }
    this.prometheusText = renderPrometheus(result.batch, result.kpis);
    return result.kpis;
  }
}
