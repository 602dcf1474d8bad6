/**
 * The collection loop: one snapshot every interval on a fixed cadence (a slow read does not push
 * later ones back, and an interval whose work overruns the next tick skips that tick and counts it),
 * handed to the daemon's handler, and one log line per interval. A replayed recording is paced by
 * its own timestamps, or read as fast as possible.
 */
import { setImmediate as yieldToEvents, setTimeout as wait } from 'node:timers/promises';
import { MAX_TIMER_MS } from '../config/schema.js';
import type { ReadResult } from '../procfs/index.js';
import type { Snapshot } from '../snapshot/types.js';
import type { Logger } from './log.js';
import type { SnapshotSource } from './source.js';

/** What the handler reports of an interval, for the log line. */
export interface IntervalReport {
  fields: Record<string, unknown>;
  /** Appended to the log message. */
  summary: string;
  /** Wall time of each stage after the read, in ms (named in the warning when the work overruns a tick). */
  stagesMs?: Record<string, number>;
}

/**
 * An interval's work has half the interval, from the start of its read: past that the handler stops
 * classifying new processes (they wait for the next interval), so that the interval ends well
 * before the next tick whatever the processes are.
 */
export const INTERVAL_BUDGET_SHARE = 0.5;

/** The time an interval's handler has (see INTERVAL_BUDGET_SHARE), and the signal that the agent is stopping. */
export interface IntervalBudget {
  /** performance.now() time. */
  deadline: number;
  budgetMs: number;
  signal: AbortSignal;
}

export interface CollectorOptions {
  source: SnapshotSource;
  intervalSeconds: number;
  log: Logger;
  /** Log every permission error instead of only counting them (OpenTelemetry's mute_process_*_error=false). */
  logPermissionErrors: boolean;
  /** Optimizes and exports a snapshot; a throw is logged and the loop goes on; null: abandoned because the agent is stopping. */
  handle?: (snapshot: Snapshot, budget: IntervalBudget) => Promise<IntervalReport | null>;
  /** Called once when a replayed recording ends (the loop stops; the daemon keeps serving). */
  onEnd?: () => void;
}

export class Collector {
  /** Ticks skipped because the previous interval's work ran past them. */
  skipped = 0;
  /** Intervals handled. */
  intervals = 0;
  private stopped = false;
  private readonly wake = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly options: CollectorOptions) {}

  /** Collects now, then every interval until stop(). */
  start(): void {
    this.running = this.loop();
  }

  /** Stops the loop after the interval in hand and closes the source. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.running;
    this.options.source.close();
  }

  /** Reads and handles one snapshot; false when the read or the handling failed (logged). */
  async collectOnce(): Promise<boolean> {
    const started = performance.now();
    const r = await this.read();
    return r !== null && r !== 'end' && (await this.handle(r, started)) !== false;
  }

  private async loop(): Promise<void> {
    const { source, intervalSeconds, log } = this.options;
    const intervalMs = intervalSeconds * 1000;
    const origin = performance.now(); // monotonic: a clock step neither stalls nor rushes collection
    let firstTimestamp: number | null = null;
    let tick = 0;
    while (!this.stopped) {
      const started = performance.now();
      const r = await this.read();
      if (r === 'end') {
        this.options.onEnd?.();
        return;
      }
      if (r !== null && source.kind === 'replay' && source.pace === 'recorded') {
        firstTimestamp ??= r.snapshot.timestamp;
        await this.sleep(origin + (r.snapshot.timestamp - firstTimestamp) * 1000 - performance.now());
        if (this.stopped) return;
      }
      // A replay paced at the recorded times has its budget from the snapshot's due time.
      const stages = r !== null ? await this.handle(r, source.kind === 'replay' ? performance.now() : started) : null;
      if (source.kind === 'replay') {
        await yieldToEvents(); // let the API answer between snapshots
        continue;
      }
      // Next due time on the fixed grid; grid points already past are skipped, not piled up.
      tick++;
      let due = origin + tick * intervalMs;
      const now = performance.now();
      if (due < now) {
        const missed = Math.ceil((now - due) / intervalMs);
        this.skipped += missed;
        tick += missed;
        due += missed * intervalMs;
        const took = now - started;
        const ms = stages ? Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])) : {};
        const slowest = Object.entries(ms).sort((a, b) => b[1] - a[1])[0];
        const where = slowest ? `, most of it ${slowest[0]} (${fmt(slowest[1])}; ${Object.entries(ms).filter(([k]) => k !== slowest[0]).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})` : '';
        log.warn(
          { skipped: missed, skipped_total: this.skipped, interval_s: intervalSeconds, took_ms: round(took), stages_ms: ms },
          `the interval's work took ${fmt(took)}${where} and overran the next tick: skipped ${missed} (${this.skipped} in all); consider a longer interval`,
        );
      }
      await this.sleep(due - now);
    }
  }

  /** Sleeps `ms` (in steps a timer can take: a replay's recorded pace may ask for more than 24.8 days). */
  private async sleep(ms: number): Promise<void> {
    const until = performance.now() + ms;
    for (let left = ms; left > 0 && !this.stopped; left = until - performance.now()) {
      try {
        await wait(Math.min(left, MAX_TIMER_MS), undefined, { signal: this.wake.signal });
      } catch {
        return; // stop() woke us
      }
    }
  }

  /** The next snapshot; null when the read failed (logged), 'end' at the end of a recording. */
  private async read(): Promise<ReadResult | null | 'end'> {
    const { source, log } = this.options;
    try {
      return (await source.next()) ?? 'end';
    } catch (err) {
      const what = source.kind === 'procfs' ? `cannot read ${source.location}` : `cannot replay ${source.location}`;
      log.error({ err, source: source.location }, `${what}: ${(err as Error).message}`);
      if (source.kind === 'replay') return 'end';
      return null;
    }
  }

  /**
   * Handles one snapshot read from `started` on; returns the stages' times (the read's included), or
   * false when the handling failed (logged) and null when it was abandoned because the agent is stopping.
   */
  private async handle(result: ReadResult, started: number): Promise<Record<string, number> | false | null> {
    const { log, source, intervalSeconds } = this.options;
    const { stats, snapshot } = result;
    let report: IntervalReport = { fields: {}, summary: '' };
    if (this.options.handle) {
      const budgetMs = intervalSeconds * 1000 * INTERVAL_BUDGET_SHARE;
      try {
        const r = await this.options.handle(snapshot, { deadline: started + budgetMs, budgetMs, signal: this.wake.signal });
        if (r === null) return null;
        report = r;
      } catch (err) {
        log.error({ err }, `cannot optimize or export this interval: ${(err as Error).message}`);
        return false;
      }
    }
    this.intervals++;
    const denied = Object.fromEntries(Object.entries(stats.permissionErrors).filter(([, n]) => n > 0));
    const mutedNote = this.options.logPermissionErrors ? '' : `, ${stats.permissionErrorsTotal} permission errors muted`;
    const verb = source.kind === 'replay' ? `replayed snapshot ${new Date(snapshot.timestamp * 1000).toISOString()}:` : 'collected';
    log.info(
      {
        processes: stats.processes,
        vanished: stats.vanished,
        permission_errors: stats.permissionErrorsTotal,
        permission_errors_by_kind: denied,
        other_errors: stats.otherErrors,
        read_ms: round(stats.durationMs),
        ...report.fields,
      },
      `${verb} ${stats.processes} processes in ${round(stats.durationMs)} ms${mutedNote}${report.summary}`,
    );
    if (this.options.logPermissionErrors) {
      for (const d of stats.permissionErrorDetails) {
        const what = d.kind === 'hidden' ? `pid ${d.pid} is hidden from this user (hidepid)` : `permission denied reading ${d.kind} of pid ${d.pid} (${d.name})`;
        log.warn({ process_pid: d.pid, process_name: d.name, kind: d.kind }, what);
      }
    }
    return { read: stats.durationMs, ...report.stagesMs };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** A duration for a message: ms below 10 s, else s. */
function fmt(ms: number): string {
  return ms < 10_000 ? `${round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
