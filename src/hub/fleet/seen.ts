// Heartbeats are the hub's hot path: 10,000 agents at 30 s are 333 messages a second that
// change nothing but "last seen". They are written in batches (one statement per batch) and
// kept here meanwhile, so that the next message of an agent sees its own last sequence number.
import type { Logger } from 'pino';
import type { AgentRecord, AgentSeen, HubStore } from '../store/types.js';

export class SeenBatcher {
  private pending = new Map<string, AgentSeen>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: HubStore,
    private readonly log: Logger,
    private readonly flushMs: number,
    private readonly maxBatch = 1000,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  add(seen: AgentSeen): void {
    this.pending.set(seen.instanceUid, seen);
    if (this.pending.size >= this.maxBatch) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** A full write of the record supersedes its pending heartbeat. */
  drop(uid: string): void {
    this.pending.delete(uid);
  }

  /** The stored record with its pending heartbeat applied. */
  overlay(rec: AgentRecord | null): AgentRecord | null {
    if (!rec) return rec;
    const p = this.pending.get(rec.instanceUid);
    if (!p) return rec;
    return { ...rec, lastSeenMs: p.lastSeenMs, lastSequenceNum: p.lastSequenceNum, observedIntervalSeconds: p.observedIntervalSeconds, status: 'online', offlineSinceMs: null };
  }

  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.size === 0) return this.flushing;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    // Batches are written one after another, so an older one never lands after a newer one.
    this.flushing = this.flushing.then(async () => {
      try {
        await this.store.recordSeen(batch);
      } catch (err) {
        this.log.warn({ err, agents: batch.length }, 'could not record heartbeats; they are retried with the next batch');
        for (const s of batch) if (!this.pending.has(s.instanceUid)) this.pending.set(s.instanceUid, s);
      }
    });
    return this.flushing;
  }
}
