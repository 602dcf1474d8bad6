/**
 * The control loop's decisions: every evaluation with the inputs it saw, what it did and why, so that
 * `control history` and the dashboard's timeline can show why a profile changed, or did not.
 */
import type Database from 'better-sqlite3';
import type { DecisionInput, DecisionRow, TimeQuery } from './types.js';

interface StoredDecision {
  id: number;
  time: number;
  inputs: string;
  outcome: string;
  from_profile: string | null;
  to_profile: string | null;
  reason: string;
}

export class DecisionLog {
  private readonly insert: Database.Statement<[number, string, string, string | null, string | null, string]>;
  private readonly list: Database.Statement<[number, number], StoredDecision>;
  private readonly listChanges: Database.Statement<[number, number], StoredDecision>;
  private readonly pruneOld: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare('INSERT INTO decisions (time, inputs, outcome, from_profile, to_profile, reason) VALUES (?, ?, ?, ?, ?, ?)');
    this.list = db.prepare('SELECT * FROM decisions WHERE time >= ? ORDER BY id DESC LIMIT ?');
    this.listChanges = db.prepare('SELECT * FROM decisions WHERE time >= ? AND from_profile IS NOT to_profile ORDER BY id DESC LIMIT ?');
    this.pruneOld = db.prepare('DELETE FROM decisions WHERE time < ?');
  }

  /** Returns the decision's id. */
  record(d: DecisionInput): number {
    return Number(this.insert.run(d.time, JSON.stringify(d.inputs ?? null), d.outcome, d.from, d.to, d.reason).lastInsertRowid);
  }

  /** The latest first, in the order they were made (a replay after a restart starts its data time over). */
  recent(query: TimeQuery & { changes?: boolean } = {}): DecisionRow[] {
    return (query.changes ? this.listChanges : this.list).all(query.since ?? -Infinity, query.limit ?? -1).map((r) => ({
      id: r.id,
      time: r.time,
      inputs: JSON.parse(r.inputs) as unknown,
      outcome: r.outcome,
      from: r.from_profile,
      to: r.to_profile,
      reason: r.reason,
    }));
  }

  prune(before: number): number {
    return this.pruneOld.run(before).changes;
  }
}
