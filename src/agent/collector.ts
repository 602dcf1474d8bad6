/**
 * The collection loop: one snapshot every interval, on a fixed cadence (a slow read does not push
 * later ones back), optimized and exported, and one log line per interval.
 */
import type { ProcfsReader } from '../procfs/index.js';
import type { Logger } from './log.js';
import type { Optimizer } from './optimizer.js';

export interface CollectorOptions {
  reader: ProcfsReader;
  intervalSeconds: number;
  log: Logger;
  /** Log every permission error instead of only counting them (OpenTelemetry's mute_process_*_error=false). */
  logPermissionErrors: boolean;
  /** The pipeline and exporters; without it the agent only reads. */
  optimizer?: Optimizer;
}

export class Collector {
  private timer: NodeJS.Timeout | null = null;
  private started = 0;
  private ticks = 0;

  constructor(private readonly options: CollectorOptions) {}

  /** Reads now, then every interval until stop(). */
  start(): void {
    this.started = performance.now(); // monotonic: a clock step neither stalls nor rushes collection
    this.tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.options.reader.close();
  }

  /** Reads one snapshot and logs it; a failing read is logged (false) and the loop goes on. */
  collectOnce(): boolean {
    const { reader, log } = this.options;
    let result;
    try {
      result = reader.read();
    } catch (err) {
      log.error({ err, procfs: reader.root }, `cannot read ${reader.root}: ${(err as Error).message}`);
      return false;
    }
    const { stats, snapshot } = result;
    let optimized: Record<string, unknown> = {};
    let summary = '';
    if (this.options.optimizer) {
      try {
        const k = this.options.optimizer.process(snapshot);
        optimized = {
          profile: k.profile,
          datapoints_baseline: k.datapoints_baseline,
          datapoints_exported: k.datapoints_exported,
          reduction_datapoints: Math.round(k.reduction_datapoints * 1000) / 1000,
          cost_per_hour_baseline: k.cost_per_hour_baseline,
          cost_per_hour_optimized: k.cost_per_hour_optimized,
          coverage_critical: k.coverage_critical,
        };
        summary = `; ${k.profile}: ${k.datapoints_exported} of ${k.datapoints_baseline} datapoints (-${(k.reduction_datapoints * 100).toFixed(1)}%)`;
      } catch (err) {
        log.error({ err }, `cannot optimize or export this interval: ${(err as Error).message}`);
        return false;
      }
    }
    const denied = Object.fromEntries(Object.entries(stats.permissionErrors).filter(([, n]) => n > 0));
    const mutedNote = this.options.logPermissionErrors ? '' : `, ${stats.permissionErrorsTotal} permission errors muted`;
    log.info(
      {
        processes: stats.processes,
        vanished: stats.vanished,
        permission_errors: stats.permissionErrorsTotal,
        permission_errors_by_kind: denied,
        other_errors: stats.otherErrors,
        read_ms: round(stats.durationMs),
        ...optimized,
      },
      `collected ${stats.processes} processes in ${round(stats.durationMs)} ms${mutedNote}${summary}`,
    );
    if (this.options.logPermissionErrors) {
      for (const d of stats.permissionErrorDetails) {
        const what = d.kind === 'hidden' ? `pid ${d.pid} is hidden from this user (hidepid)` : `permission denied reading ${d.kind} of pid ${d.pid} (${d.name})`;
        log.warn({ process_pid: d.pid, process_name: d.name, kind: d.kind }, what);
      }
    }
    return true;
  }

  private tick(): void {
    this.collectOnce();
    this.ticks++;
    const intervalMs = this.options.intervalSeconds * 1000;
    // Next due time on the fixed grid; skip grid points already past (an overrun is not piled up).
    let due = this.started + this.ticks * intervalMs;
    const now = performance.now();
    if (due < now) {
      const missed = Math.ceil((now - due) / intervalMs);
      this.ticks += missed;
      due += missed * intervalMs;
    }
    this.timer = setTimeout(() => this.tick(), due - now);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
