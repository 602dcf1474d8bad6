/**
 * The alert outbox: an alert is stored before any attempt to send it, so that one raised just before
 * a crash or during a network outage is still delivered later. The alert sender takes the due ones,
 * and marks each delivered, or failed with the time of its next attempt (its backoff is the
 * sender's to choose).
 */
import type Database from 'better-sqlite3';
import type { AlertRow } from './types.js';

interface StoredAlert {
  id: number;
  event: string;
  payload: string;
  created: number;
  attempts: number;
  next_attempt: number;
  last_attempt: number | null;
  delivered: number | null;
  last_error: string | null;
}

const toAlert = (r: StoredAlert): AlertRow => ({
  id: r.id,
  event: r.event,
  payload: JSON.parse(r.payload) as unknown,
  created: r.created,
  attempts: r.attempts,
  nextAttempt: r.next_attempt,
  lastAttempt: r.last_attempt,
  delivered: r.delivered,
  lastError: r.last_error,
});

export class AlertOutbox {
  private readonly insert: Database.Statement<[string, string, number, number]>;
  private readonly due: Database.Statement<[number, number], StoredAlert>;
  private readonly delivered: Database.Statement<[number, number, number]>;
  private readonly failed: Database.Statement<[number, string, number, number]>;
  private readonly pruneOld: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare('INSERT INTO alert_outbox (event, payload, created, next_attempt) VALUES (?, ?, ?, ?)');
    this.due = db.prepare('SELECT * FROM alert_outbox WHERE delivered IS NULL AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?');
    this.delivered = db.prepare('UPDATE alert_outbox SET delivered = ?, last_attempt = ?, attempts = attempts + 1 WHERE id = ? AND delivered IS NULL');
    this.failed = db.prepare('UPDATE alert_outbox SET last_attempt = ?, last_error = ?, next_attempt = ?, attempts = attempts + 1 WHERE id = ? AND delivered IS NULL');
    this.pruneOld = db.prepare('DELETE FROM alert_outbox WHERE created < ?');
  }

  /** Stores an alert, due at once. Returns its id. */
  enqueue(event: string, payload: unknown, time: number): number {
    return Number(this.insert.run(event, JSON.stringify(payload ?? null), time, time).lastInsertRowid);
  }

  /** Undelivered alerts whose next attempt is due at `now`, the longest-waiting first. */
  pending(now: number, limit: number): AlertRow[] {
    return this.due.all(now, limit).map(toAlert);
  }

  /** False when the alert is unknown (pruned) or was already delivered. */
  markDelivered(id: number, time: number): boolean {
    return this.delivered.run(time, time, id).changes > 0;
  }

  /** Counts the attempt and keeps the alert until `nextAttempt`. False when unknown or already delivered. */
  markFailed(id: number, time: number, error: string, nextAttempt: number): boolean {
    return this.failed.run(time, error, nextAttempt, id).changes > 0;
  }

  /** Drops alerts raised before `before`, delivered or not: a week-old alert is news to no one. */
  prune(before: number): number {
    return this.pruneOld.run(before).changes;
  }
}
