/** A wait that a change can cut short (when the wait allows it) and a stop always does. */
export class Sleeper {
  private current: { resolve: () => void; timer: NodeJS.Timeout; wakeable: boolean } | null = null;

  sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), Math.max(0, ms));
      this.current = { resolve, timer, wakeable };
    });
  }

  /** Ends the current wait if it may be cut short, or in any case with `force` (a stop). */
  wake(force = false): void {
    if (this.current && (force || this.current.wakeable)) this.finish();
  }

  private finish(): void {
    const c = this.current;
    if (!c) return;
    this.current = null;
    clearTimeout(c.timer);
    c.resolve();
  }
}
