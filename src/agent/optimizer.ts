/**
 * The agent's data path after the receiver: each snapshot through the pipeline of the active profile,
 * then to the exporters (the OTLP delivery queue, the file, and the exposition `/metrics` serves). The
 * pipeline state lives here between intervals.
 */
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { Config } from '../config/index.js';
import { renderPrometheus, type FileExporter } from '../export/index.js';
import type { DeliveryMetrics, OtlpHttpSender } from '../export/otlp-http.js';
import { MAX_REQUEST_BYTES, type OtlpSettings } from '../export/otlp-settings.js';
import type { DurableQueue } from '../export/queue.js';
import { buildRequests } from '../export/requests.js';
import { encodeProtobuf, toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type AgentUsage, type Decision, type Kpis, type Metric, type PipelineState } from '../pipeline/index.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';

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

/** The longest prepare() keeps the event loop before it lets other work run. */
const SLICE_MS = 20;

export class Optimizer {
  private pipeline: Pipeline;
  /** The Prometheus exposition of the latest interval (empty before the first). */
  prometheusText = '';
  /** The latest interval's KPIs and per-process decisions (for status, explain and top). */
  lastKpis: Kpis | null = null;
  lastDecisions: Decision[] = [];
  /** Wall time of the latest process(): the pipeline, and the exporters (exposition, file, OTLP queue). */
  lastTimings = { pipeline: 0, export: 0 };
  /** New identities left out of intervals because their interval's time budget ran out (prepare()). */
  skippedTotal = 0;
  private skippedReported = 0;
  private readonly since = Date.now() / 1000;
  /** The self-metrics from outside the pipeline that the latest interval carried (the shadow profiles count them too). */
  lastExtraSelf: readonly Metric[] = [];
  /** The latest interval's self-metrics and times (the fleet hub gets them with its KPIs). */
  lastSelf: { timestamp: number; intervalStart: number | null; metrics: Metric[] } | null = null;

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

  /** Switches the profile from the next interval on; the pipeline state and the classifications carry over. */
  setProfile(profile: string): void {
    if (profile === this.profileName) return;
    this.profileName = profile;
    this.pipeline = new Pipeline(this.config, profile, this.pipeline.sharedEngine);
  }

  /**
   * Before process(): classifies and redacts the identities the pipeline has not classified as they
   * are (the only per-process work whose cost the processes themselves choose, through their names
   * and command lines), in slices of at most SLICE_MS with the event loop free in between, so that
   * the API and signals are served meanwhile. The identities already known (their name, command
   * line, user or parent changed: a retitle, an exec, a reparenting) come first, then the new ones;
   * each group in turns by user, so that no user's flood of processes holds up the others'. It stops
   * at `deadline` (performance.now() time) or when `signal` aborts. A known identity not reached
   * stays in the interval as it was last classified (its previous attributes; reclassified first in
   * the next interval); the other identities not reached are left out of this interval (`skipped`),
   * their pipeline memory untouched, and classified in the next one. What the returned snapshot holds
   * is processed whole: its totals are those of the processes it keeps. `aborted`: stop now.
   */
  async prepare(snapshot: Snapshot, deadline: number, signal: AbortSignal): Promise<{ snapshot: Snapshot; skipped: number; aborted: boolean }> {
    const memory = this.pipelineState.processes;
    const known: ProcessSample[] = [];
    const fresh: ProcessSample[] = [];
    for (const p of snapshot.processes) {
      if (this.pipeline.primed(p)) continue;
      (memory.get(p.pid)?.start === p.start_time ? known : fresh).push(p);
    }
    const queue = [...inTurnsByUser(known), ...inTurnsByUser(fresh)];
    let sliceEnd = performance.now() + SLICE_MS;
    let done = 0;
    while (done < queue.length) {
      this.pipeline.prime(queue[done++]!);
      if (performance.now() < sliceEnd) continue;
      await yieldToEvents();
      if (signal.aborted) return { snapshot, skipped: 0, aborted: true };
      const now = performance.now();
      if (now >= deadline) break;
      sliceEnd = now + SLICE_MS;
    }
    if (done === queue.length) return { snapshot, skipped: 0, aborted: false };
    // Out of time: the identities not reached keep their previous classification, or are left out.
    const left = new Set(queue.slice(done));
    const kept: ProcessSample[] = [];
    for (const p of snapshot.processes) {
      const q = left.has(p) ? this.pipeline.asClassified(p) : p;
      if (q !== null) kept.push(q);
    }
    const skipped = snapshot.processes.length - kept.length;
    this.skippedTotal += skipped;
    return { snapshot: { ...snapshot, processes: kept }, skipped, aborted: false };
  }

  /** A reloaded configuration, from the next interval on. */
  setConfig(config: Config, profile: string): void {
    this.config = config;
    this.profileName = profile;
    this.pipeline = new Pipeline(config, profile);
  }

  /**
   * The self-metric of skippedTotal (`nrdot_agent_skipped_processes_total` in /metrics), sent from the
   * first skip on: until then an agent that never ran out of time sends nothing more than before. Its
   * delta is since the latest interval process() finished.
   */
  private skippedMetrics(): Metric[] {
    if (this.skippedTotal === 0) return [];
    const value = this.skippedTotal - this.skippedReported;
    return [
      {
        name: 'nrdot.agent.skipped_processes',
        unit: '{process}',
        description: "New processes left out of an interval because the interval's time budget ran out (classified in the next one).",
        kind: 'sum',
        monotonic: true,
        integer: true,
        points: [{ attributes: null, value, cumulative: this.skippedTotal, start: this.since }],
      },
    ];
  }

  /** Optimizes one snapshot, exports the batch and returns the interval's KPIs. */
  process(snapshot: Snapshot, extra: { agent?: AgentUsage; extraSelf?: Metric[]; cadenceSeconds?: number } = {}): Kpis {
    const { file, otlp } = this.exporters;
    const extraSelf = [...(otlp?.metrics.metrics() ?? []), ...(extra.extraSelf ?? []), ...this.skippedMetrics()];
    const skippedTotal = this.skippedTotal;
    const started = performance.now();
    const result = this.pipeline.run(snapshot, this.pipelineState, { decisions: true, extraSelf, agent: extra.agent, cadenceSeconds: extra.cadenceSeconds });
    const ran = performance.now();
    this.pipelineState = result.state;
    this.lastKpis = result.kpis;
    this.lastDecisions = result.decisions;
    this.lastExtraSelf = extraSelf;
    const { batch } = result;
    this.lastSelf = { timestamp: batch.timestamp, intervalStart: batch.intervalStart, metrics: batch.resources.find((r) => r.kind === 'self')?.metrics ?? [] };
    this.prometheusText = renderPrometheus(batch, result.kpis);
    // Each exporter's failure is its own (counted, logged and shown in status): none stops another.
    file?.write(JSON.stringify(toOtlpJson(batch.resources, batch, otlp?.settings.temporality ?? this.config.exporters.otlp.temporality)));
    if (otlp) {
      const parts = batch.resources.map((r) => encodeProtobuf([r], batch, otlp.settings.temporality));
      const { bodies, oversize } = buildRequests(parts, otlp.settings.compression, MAX_REQUEST_BYTES);
      otlp.sender.submit(bodies);
      otlp.sender.dropOversize(oversize);
    }
    this.lastTimings = { pipeline: ran - started, export: performance.now() - ran };
    // Reported once the interval went through: one that failed leaves its delta to the next.
    this.skippedReported = skippedTotal;
    return result.kpis;
  }
}

/** The processes in turns by user (one of each user's, in the order given, then the next of each): linear. */
function inTurnsByUser(processes: ProcessSample[]): ProcessSample[] {
  const byUser = new Map<string, ProcessSample[]>();
  for (const p of processes) {
    const list = byUser.get(p.user);
    if (list) list.push(p);
    else byUser.set(p.user, [p]);
  }
  if (byUser.size <= 1) return processes;
  const out: ProcessSample[] = [];
  let lists = [...byUser.values()];
  for (let turn = 0; lists.length > 0; turn++) {
    for (const list of lists) out.push(list[turn]!);
    lists = lists.filter((list) => list.length > turn + 1);
  }
  return out;
}
