/**
 * The health of one part that the agent writes to every interval (the file exporter, the state store):
 * whether it is failing, since when and why, and how many intervals it could not take. One part
 * failing never stops the others: each interval it is tried again, the first failure of an outage
 * (and a different error during it) is logged without a stack trace, and the recovery once.
 */
import type { Logger } from '../agent/log.js';

/** As `status` and the API show it. */
export interface HealthState {
  failing: boolean;
  /** ISO 8601. */
  failing_since: string | null;
  last_error: string | null;
  /** Intervals it could not take since the agent started. */
  intervals_failed: number;
}

export class Health {
  /** Intervals it could not take since the agent started. */
  intervalsFailed = 0;
  private outage: { since: number; error: string; intervals: number } | null = null;

  /**
   * @param what names the part in log lines ("file exporter /var/lib/x.jsonl").
   * @param consequence what a failed interval means, for the log line ("the interval is not in the file").
   * @param owns which errors are this part's failures (default all); others are thrown on.
   */
  constructor(
    private readonly log: Logger,
    private readonly what: string,
    private readonly consequence: string,
    private readonly owns: (err: unknown) => boolean = () => true,
  ) {}

  get failing(): boolean {
    return this.outage !== null;
  }

  /** When the outage began (ms since the epoch), or undefined while it works. */
  get since(): number | undefined {
    return this.outage?.since;
  }

  /** Runs one interval's writes; a throw is this part's failure, counted and logged, not passed on. */
  run(write: () => void): void {
    try {
      write();
    } catch (err) {
      if (!this.owns(err)) throw err;
      this.failed(err);
      return;
    }
    this.ok();
  }

  /** This interval's write failed. */
  private failed(err: unknown): void {
    const error = (err as Error).message;
    this.intervalsFailed++;
    if (this.outage?.error !== error) {
      this.log.error(
        { component: this.what, error },
        `${this.what}: ${error}; ${this.consequence}, everything else goes on; tried again every interval`,
      );
    }
    this.outage = { since: this.outage?.since ?? Date.now(), error, intervals: (this.outage?.intervals ?? 0) + 1 };
  }

  /** This interval's write succeeded: ends an outage. */
  private ok(): void {
    if (!this.outage) return;
    const { since, intervals } = this.outage;
    this.outage = null;
    const seconds = Math.round((Date.now() - since) / 1000);
    this.log.info({ component: this.what, intervals_failed: intervals, outage_s: seconds }, `${this.what}: working again after ${intervals} failed intervals over ${seconds} s`);
  }

  state(): HealthState {
    return {
      failing: this.outage !== null,
      failing_since: this.outage ? new Date(this.outage.since).toISOString() : null,
      last_error: this.outage?.error ?? null,
      intervals_failed: this.intervalsFailed,
    };
  }
}
