// Fleet configs and pins, read once and shared by every agent's message: 10,000 agents must not
// query them at every heartbeat. A notification ('agents:*', see README.md) drops the copy; a short
// time-to-live bounds how stale it can get if a notification is lost (a PostgreSQL LISTEN
// connection that dropped, say).
import type { FleetConfig, FleetPinRecord, HubStore } from '../store/types.js';

export interface FleetSnapshot {
  configs: FleetConfig[];
  pins: FleetPinRecord[];
}

export class FleetCache {
  private current: Promise<FleetSnapshot> | null = null;
  private loadedMs = 0;
  private generation = 0;

  constructor(
    private readonly store: HubStore,
    private readonly now: () => number,
    private readonly ttlMs = 15_000,
  ) {}

  invalidate(): void {
    this.generation++;
    this.current = null;
  }

  get(): Promise<FleetSnapshot> {
    if (this.current && this.now() - this.loadedMs < this.ttlMs) return this.current;
    const gen = this.generation;
    this.loadedMs = this.now();
    const p = Promise.all([this.store.listConfigs(), this.store.listPins()]).then(([configs, pins]) => ({ configs, pins }));
    this.current = p;
    // A failed load is not kept: the next message tries again.
    p.catch(() => {
      if (this.current === p && this.generation === gen) this.current = null;
    });
    return p;
  }
}
