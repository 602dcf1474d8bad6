/**
 * The profile in force and how it got there: the active profile (set by operators or the control
 * loop), the manual pin over it, and the journal of every change. A change and its journal entry
 * are written in one transaction, so the journal never misses a change nor records one that did
 * not happen.
 */
import type Database from 'better-sqlite3';
import type { ChangeContext, JournalEntry, Pin, ProfileState, TimeQuery } from './types.js';

interface PinRow {
  profile: string;
  until: number | null;
  since: number;
  who: string;
  reason: string;
}

interface JournalRow {
  id: number;
  time: number;
  from_profile: string | null;
  to_profile: string;
  reason: string;
  who: string;
}

const toEntry = (r: JournalRow): JournalEntry => ({ id: r.id, time: r.time, from: r.from_profile, to: r.to_profile, reason: r.reason, who: r.who });

export class ProfileJournal {
  private readonly getActive: Database.Statement<[], { active: string | null }>;
  private readonly getPin: Database.Statement<[], PinRow>;
  private readonly putActive: Database.Statement<[string]>;
  private readonly putPin: Database.Statement<[string, number | null, number, string, string]>;
  private readonly deletePin: Database.Statement<[]>;
  private readonly append: Database.Statement<[number, string | null, string, string, string], JournalRow>;
  private readonly list: Database.Statement<[number, number], JournalRow>;
  /** Each change, wrapped in its transaction once. */
  readonly setActive: (profile: string, ctx: ChangeContext) => JournalEntry | null;
  readonly setPin: (profile: string, until: number | null, ctx: ChangeContext) => JournalEntry | null;
  readonly clearPin: (ctx: ChangeContext) => JournalEntry | null;

  constructor(db: Database.Database) {
    this.getActive = db.prepare('SELECT active FROM profile_state WHERE id = 1');
    this.getPin = db.prepare('SELECT profile, until, since, who, reason FROM pin WHERE id = 1');
    this.putActive = db.prepare('INSERT INTO profile_state (id, active) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET active = excluded.active');
    this.putPin = db.prepare('INSERT OR REPLACE INTO pin (id, profile, until, since, who, reason) VALUES (1, ?, ?, ?, ?, ?)');
    this.deletePin = db.prepare('DELETE FROM pin WHERE id = 1');
    this.append = db.prepare('INSERT INTO journal (time, from_profile, to_profile, reason, who) VALUES (?, ?, ?, ?, ?) RETURNING *');
    this.list = db.prepare('SELECT * FROM journal WHERE time >= ? ORDER BY id DESC LIMIT ?');

    this.setActive = db.transaction((profile: string, ctx: ChangeContext): JournalEntry | null => {
      const before = this.state();
      if (before.active === profile) return null;
      this.putActive.run(profile);
      return this.journalChange(ctx.inForce?.from ?? before.active, ctx.inForce?.to ?? profile, ctx);
    });

    this.setPin = db.transaction((profile: string, until: number | null, ctx: ChangeContext): JournalEntry | null => {
      const before = this.state();
      if (before.pin?.profile === profile && before.pin.until === until) return null;
      this.putPin.run(profile, until, ctx.time, ctx.who, ctx.reason);
      // Journalled even when the profile in force stays the same: pinning is an operator's act worth its line.
      return this.journalChange(ctx.inForce?.from ?? inForce(before), ctx.inForce?.to ?? profile, ctx);
    });

    this.clearPin = db.transaction((ctx: ChangeContext): JournalEntry | null => {
      const before = this.state();
      if (!before.pin) return null;
      this.deletePin.run();
      let after = before.active;
      if (after === null) {
        // Nothing was ever set under the pin: the pinned profile stays in force, now as the active one.
        after = before.pin.profile;
        this.putActive.run(after);
      }
      return this.journalChange(ctx.inForce?.from ?? before.pin.profile, ctx.inForce?.to ?? after, ctx);
    });
  }

  state(): ProfileState {
    const pin: Pin | null = this.getPin.get() ?? null;
    return { active: this.getActive.get()?.active ?? null, pin };
  }

  journal(query: TimeQuery = {}): JournalEntry[] {
    return this.list.all(query.since ?? -Infinity, query.limit ?? -1).map(toEntry);
  }

  /** Journals a change decided outside the stored state (a time schedule beginning or ending). */
  journalChange(from: string | null, to: string, ctx: ChangeContext): JournalEntry {
    return toEntry(this.append.get(ctx.time, from, to, ctx.reason, ctx.who)!);
  }
}

/** The stored profile in force: a pin wins over the active profile. (Expired pins are the control loop's to clear.) */
function inForce(state: ProfileState): string | null {
  return state.pin?.profile ?? state.active;
}
