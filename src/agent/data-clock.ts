/**
 * The wall clock seen through a monotonic one, for what the agent keeps in its history. A live
 * snapshot is stamped with the wall clock, which can step (an operator, NTP after a boot with a wrong
 * RTC, a VM resumed): a row stamped days ahead would become the newest data and retention, which is
 * relative to the newest data, would drop days of history. The guard expects each snapshot at the
 * time of the previous one kept plus the monotonic time since; one more than FUTURE_SLACK_SECONDS
 * ahead of that is not kept in the history (it is still exported with its stamp). A clock that stays
 * ahead for ACCEPT_AFTER_SECONDS is taken as the new time: an operator set it right. Either way the
 * retention clock advances by the monotonic time elapsed, never by a step (see StateStore.recordKpis).
 * A clock stepped backwards is followed at once: those rows are kept, stamped as the clock says.
 */
export const FUTURE_SLACK_SECONDS = 300;
export const ACCEPT_AFTER_SECONDS = 3600;

export type ClockVerdict =
  /** Keep the row; `elapsed`: monotonic seconds since the previous row kept (undefined for the first). */
  | { keep: true; elapsed: number | undefined; accepted?: { ahead: number }; resumed?: boolean }
  /** A row from the future: `ahead` seconds past the expected time; `first` for the first of a step. */
  | { keep: false; ahead: number; first: boolean };

export class DataClock {
  /**
   * The wall clock as far ahead as it was ever seen, against the monotonic clock: the kept row whose
   * time minus its monotonic time is the largest. A clock stepped back and returned is not "ahead".
   */
  private high: { time: number; mono: number } | null = null;
  /** Monotonic time of the previous row kept. */
  private lastMono: number | null = null;
  /** Monotonic time the clock was first seen ahead, while it stays ahead. */
  private aheadSince: number | null = null;
  /** Rows not kept because they came from the future, since the start. */
  refused = 0;

  constructor(private readonly monotonic: () => number = () => performance.now() / 1000) {}

  check(time: number): ClockVerdict {
    const mono = this.monotonic();
    const ahead = this.high === null ? 0 : time - (this.high.time + (mono - this.high.mono));
    if (ahead > FUTURE_SLACK_SECONDS) {
      const first = this.aheadSince === null;
      this.aheadSince ??= mono;
      if (mono - this.aheadSince < ACCEPT_AFTER_SECONDS) {
        this.refused++;
        return { keep: false, ahead, first };
      }
    }
    const resumed = this.aheadSince !== null && ahead <= FUTURE_SLACK_SECONDS;
    const accepted = ahead > FUTURE_SLACK_SECONDS ? { ahead } : undefined;
    this.aheadSince = null;
    const elapsed = this.lastMono === null ? undefined : mono - this.lastMono;
    this.lastMono = mono;
    if (ahead > 0 || this.high === null) this.high = { time, mono };
    return { keep: true, elapsed, ...(accepted ? { accepted } : {}), ...(resumed ? { resumed } : {}) };
  }
}

/** "10 d", "3 h", "12 min", "40 s": a clock step for a log line. */
export function describeStep(seconds: number): string {
  const s = Math.abs(seconds);
  if (s >= 86_400) return `${(s / 86_400).toFixed(1).replace(/\.0$/, '')} d`;
  if (s >= 3600) return `${(s / 3600).toFixed(1).replace(/\.0$/, '')} h`;
  if (s >= 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s)} s`;
}
