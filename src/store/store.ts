/**
 * The daemon's state store: one SQLite file, `<data dir>/state/state.db` in an installation, that
 * holds what must survive a restart: the profile in force and its journal, settings, the pipeline's
 * state, KPI history (and the shadow profiles'), the alert outbox and the control loop's decisions.
 *
 * WAL mode with `synchronous=NORMAL`: a commit is one append to the log and no fsync, so an interval's
 * writes cost microseconds; a killed process loses nothing it committed, and a power cut at most the
 * last commits, never the file's consistency. The daemon writes; the CLI opens it read-only beside it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeFileError } from '../file-errors.js';
import { AlertOutbox } from './alerts.js';
import { DecisionLog } from './decisions.js';
import { FleetState } from './fleet.js';
import { HOUR, KpiHistory, RAW_RETENTION_SECONDS } from './kpi-history.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { ProfileJournal } from './profile.js';
import { ShadowKpis } from './shadow-kpis.js';
import type {
  AlertRow,
  ChangeContext,
  CompareQuery,
  DecisionInput,
  DecisionRow,
  JournalEntry,
  KpiHistoryQuery,
  KpiHistoryRow,
  KpiRecord,
  OpenOptions,
  PipelineStateRecord,
  ProfileComparison,
  ProfileState,
  PruneResult,
  ShadowKpiRecord,
  TimeQuery,
} from './types.js';

export const STATE_FILE = 'state.db';

/** A state file that cannot be used: missing, unreadable, not SQLite, or from a newer nrdot-plus. The message names the file. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export class StateStore {
  private readonly db: Database.Database;
  private readonly file: string;
  private readonly readonly: boolean;
  private readonly version: number;
  private readonly profiles: ProfileJournal;
  private readonly kpis: KpiHistory;
  private readonly shadows: ShadowKpis;
  private readonly alerts: AlertOutbox;
  private readonly decisionLog: DecisionLog;
  /** The OpAMP instance UID and the last good fleet layer (fleet.ts). */
  readonly fleet: FleetState;
  private readonly getSettingStmt: Database.Statement<[string], { value: string }>;
  private readonly putSetting: Database.Statement<[string, string]>;
  private readonly deleteSetting: Database.Statement<[string]>;
  private readonly putPipeline: Database.Statement<[number, string, Buffer]>;
  private readonly getPipeline: Database.Statement<[], PipelineStateRecord>;
  private readonly recordTx: (row: KpiRecord, elapsed: number | undefined) => number;
  private readonly recordShadowTx: (rows: readonly ShadowKpiRecord[]) => void;
  private readonly pruneTx: (now: number) => PruneResult;
  /**
   * The retention clock (data time that retention counts from), and the hour of it last pruned for:
   * pruning runs once per hour of it. It starts at the newest data time stored and never goes back.
   */
  private retentionClock: number;
  private prunedHour = Number.NaN;

  /**
   * Opens (creating and migrating as needed) `dir/state.db`. With `readonly`, nothing is created,
   * migrated or written, and the file must exist. Errors a user can cause are StoreErrors naming the file.
   */
  static open(dir: string, options: OpenOptions = {}): StateStore {
    const file = join(dir, STATE_FILE);
    const readonly = options.readonly === true;
    if (readonly && !existsSync(file)) throw new StoreError(`${file}: no such file (has the agent run with this data directory?)`);
    if (!readonly) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'a parent is not a directory' : describeFileError(err);
        throw new StoreError(`${file}: cannot create the directory ${dir}: ${why}`);
      }
    }
    let db: Database.Database;
    try {
      db = new Database(file, { readonly, fileMustExist: readonly });
    } catch (err) {
      throw new StoreError(`${file}: ${err instanceof Database.SqliteError ? describeSqliteError(err) : describeFileError(err)}`);
    }
    try {
      db.pragma('busy_timeout = 5000');
      // The version first, before any pragma that writes: a file we must refuse is left as it was.
      const version = userVersion(db);
      if (version > SCHEMA_VERSION) {
        throw new StoreError(`${file}: written by a newer nrdot-plus (schema version ${version}; this one knows up to ${SCHEMA_VERSION}); upgrade nrdot-plus, or move the file away to start afresh`);
      }
      if (readonly && version < SCHEMA_VERSION) {
        throw new StoreError(`${file}: schema version ${version}, older than this nrdot-plus's ${SCHEMA_VERSION}; start the agent once to upgrade it`);
      }
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
        // The log is reset at each checkpoint but keeps its size; beyond this, it is truncated back.
        db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
        migrate(db);
      }
      return new StateStore(db, file, readonly, readonly ? version : SCHEMA_VERSION);
    } catch (err) {
      db.close();
      if (err instanceof Database.SqliteError) throw new StoreError(`${file}: ${describeSqliteError(err)}`);
      throw err;
    }
  }

  private constructor(db: Database.Database, file: string, readonly: boolean, version: number) {
    this.db = db;
    this.file = file;
    this.readonly = readonly;
    this.version = version;
    this.profiles = new ProfileJournal(db);
    this.kpis = new KpiHistory(db);
    this.shadows = new ShadowKpis(db);
    this.alerts = new AlertOutbox(db);
    this.decisionLog = new DecisionLog(db);
    this.fleet = new FleetState(db);
    this.getSettingStmt = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.putSetting = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.deleteSetting = db.prepare('DELETE FROM settings WHERE key = ?');
    this.putPipeline = db.prepare(
      `INSERT INTO pipeline_state (id, timestamp, source, blob) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET timestamp = excluded.timestamp, source = excluded.source, blob = excluded.blob`,
    );
    this.getPipeline = db.prepare('SELECT blob, timestamp, source FROM pipeline_state WHERE id = 1');
    this.retentionClock = this.kpis.newest() ?? Number.NEGATIVE_INFINITY;

    this.recordTx = db.transaction((row: KpiRecord, elapsed: number | undefined): number => {
      const id = this.kpis.record(row);
      const advanced = elapsed === undefined || this.retentionClock === Number.NEGATIVE_INFINITY ? row.time : Math.min(row.time, this.retentionClock + Math.max(0, elapsed));
      if (advanced > this.retentionClock) this.retentionClock = advanced;
      const hour = Math.floor(this.retentionClock / HOUR);
      if (hour !== this.prunedHour) {
        this.prunedHour = hour;
        this.pruneTx(this.retentionClock);
      }
      return id;
    });
    this.recordShadowTx = db.transaction((rows: readonly ShadowKpiRecord[]): void => {
      for (const row of rows) this.shadows.record(row);
    });
    this.pruneTx = db.transaction((now: number): PruneResult => {
      const { raw, hourly } = this.kpis.prune(now);
      const before = now - RAW_RETENTION_SECONDS;
      return { raw, hourly, shadow: this.shadows.prune(now), decisions: this.decisionLog.prune(before), alerts: this.alerts.prune(before) };
    });
  }

  /** The database file. */
  get path(): string {
    return this.file;
  }

  /** The schema version of the open file (`PRAGMA user_version`). */
  get schemaVersion(): number {
    return this.version;
  }

  /**
   * Writes a copy of the database to `file` (which must not exist) for an archive, and returns how
   * many rows `scrub` changed in it. The store is not changed.
   *
   * `VACUUM INTO` rather than the online backup API: it is one statement in one read transaction, so
   * the copy is the database at one instant however the daemon writes around it (WAL: other
   * connections' readers and writers are not blocked, and this connection's own writes cannot
   * interleave with a synchronous statement), and it is compacted: free pages, which may still hold
   * the bytes of deleted rows, are not copied. It holds the event loop while it runs (the store is
   * synchronous): for a week of 10 s intervals and a 1 MiB pipeline state, on the 2-core build
   * machine, about 30 ms to copy and 80 ms more to scrub; once per archive.
   *
   * With `scrub`, every value of every text column of the copy (journal and pin reasons, settings,
   * alert payloads and errors, decisions' inputs and reasons, ...) is passed through it and replaced
   * when it changes; numbers and blobs are left as they are (the pipeline state blob: numbers, pids,
   * tier and rollup group names). The copy is then vacuumed again, with secure_delete, so that the
   * replaced bytes are gone from the file. Errors are StoreErrors naming `file`.
   */
  copyTo(file: string, scrub?: (text: string) => string): number {
    try {
      this.db.prepare('VACUUM INTO ?').run(file);
    } catch (err) {
      throw new StoreError(`${file}: cannot copy the state store there: ${err instanceof Database.SqliteError ? describeSqliteError(err) : describeFileError(err)}`);
    }
    if (!scrub) return 0;
    let copy: Database.Database | undefined;
    try {
      copy = new Database(file, { fileMustExist: true });
      copy.pragma('journal_mode = DELETE');
      copy.pragma('secure_delete = ON');
      copy.function('nrdot_scrub', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? scrub(value) : value));
      let changed = 0;
      const tables = copy.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'").pluck().all() as string[];
      copy.transaction(() => {
        for (const table of tables) {
          // Columns of text affinity (or none): the only ones the store puts text in. One pass per table.
          const columns = (copy!.prepare('SELECT name, type FROM pragma_table_info(?)').all(table) as Array<{ name: string; type: string }>)
            .filter((c) => c.type === '' || /CHAR|CLOB|TEXT/i.test(c.type))
            .map((c) => quoteIdentifier(c.name));
          if (columns.length === 0) continue;
          const set = columns.map((c) => `${c} = nrdot_scrub(${c})`).join(', ');
          const where = columns.map((c) => `nrdot_scrub(${c}) IS NOT ${c}`).join(' OR ');
          changed += copy!.prepare(`UPDATE ${quoteIdentifier(table)} SET ${set} WHERE ${where}`).run().changes;
        }
      })();
      if (changed > 0) copy.exec('VACUUM');
      copy.close();
      return changed;
    } catch (err) {
      copy?.close();
      throw new StoreError(`${file}: cannot redact the copy of the state store: ${err instanceof Database.SqliteError ? describeSqliteError(err) : describeFileError(err)}`);
    }
  }

  /** Checkpoints the log into the file and closes. Safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    if (!this.readonly) {
      // Never wait at shutdown for a CLI that is reading: a busy checkpoint is simply left to the next open.
      this.db.pragma('busy_timeout = 0');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    this.db.close();
  }

  // Profile state and journal (profile.ts).

  profileState(): ProfileState {
    return this.profiles.state();
  }

  /** Sets the active profile; journals and returns the change, or null when it was already active. */
  setActiveProfile(profile: string, ctx: ChangeContext): JournalEntry | null {
    return this.profiles.setActive(profile, ctx);
  }

  /** Pins a profile until `until` (unix s; null: until unpinned); journals and returns the change, or null when the same pin is in place. */
  setPin(profile: string, until: number | null, ctx: ChangeContext): JournalEntry | null {
    return this.profiles.setPin(profile, until, ctx);
  }

  /** Removes the pin; journals and returns the change, or null when there was no pin. */
  clearPin(ctx: ChangeContext): JournalEntry | null {
    return this.profiles.clearPin(ctx);
  }

  /** Journals a change of the profile in force that the stored state does not hold (a schedule's). */
  journalChange(from: string | null, to: string, ctx: ChangeContext): JournalEntry {
    return this.profiles.journalChange(from, to, ctx);
  }

  /** Profile changes, the latest first (in the order they were made: a replay journals its own data time beside wall-clock changes). */
  journal(query: TimeQuery = {}): JournalEntry[] {
    return this.profiles.journal(query);
  }

  // Settings: small values the daemon must remember, e.g. that the control loop was stopped.

  getSetting<T>(key: string): T | undefined {
    const row = this.getSettingStmt.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  /** Stores any JSON value; undefined removes the key. */
  setSetting(key: string, value: unknown): void {
    if (value === undefined) this.deleteSetting.run(key);
    else this.putSetting.run(key, JSON.stringify(value));
  }

  // Pipeline state: replaced in place, so that a restart resumes rates, EWMA and hysteresis.

  savePipelineState(blob: Buffer, meta: { timestamp: number; source: string }): void {
    this.putPipeline.run(meta.timestamp, meta.source, blob);
  }

  loadPipelineState(): PipelineStateRecord | null {
    return this.getPipeline.get() ?? null;
  }

  // KPI history (kpi-history.ts).

  /**
   * Stores one interval's KPIs and adds them to their UTC hour, in one transaction, and prunes what
   * is older than the retention relative to the retention clock, once per hour of it: a replayed
   * recording from last month keeps its history. The retention clock is the newest data time, except
   * that with `elapsed` (the seconds that really passed since the previous row, on a monotonic clock)
   * it moves forward by no more than that: a wall clock stepped days ahead does not age the history
   * by days. It never moves back. Returns the raw row's id.
   */
  recordKpis(row: KpiRecord, elapsed?: number): number {
    return this.recordTx(row, elapsed);
  }

  /** KPI rows, oldest first; with `limit`, the newest `limit` rows of the range. */
  kpiHistory(query: KpiHistoryQuery): KpiHistoryRow[] {
    return this.kpis.history(query);
  }

  /** The newest interval's KPIs, or null before the first. */
  latestKpis(): KpiRecord | null {
    return this.kpis.latestRecord();
  }

  // Shadow profiles (shadow-kpis.ts).

  /**
   * Stores the shadow profiles' KPIs of one interval (one row per profile; a KpiRecord will do), in
   * one transaction. They are pruned with the raw KPIs, by recordKpis.
   */
  recordShadowKpis(rows: readonly ShadowKpiRecord[]): void {
    if (rows.length > 0) this.recordShadowTx(rows);
  }

  /** The shadow profiles' rows of the interval at `time` (the snapshot's time, as recorded). */
  shadowKpisAt(time: number): ShadowKpiRecord[] {
    return this.shadows.rowsAt(time);
  }

  /**
   * The shadow profiles' rows after `after` (exclusive) up to `until` (inclusive), oldest first: what
   * the control loop prices a step with (the last hour's).
   */
  shadowKpis(query: { after?: number; until?: number } = {}): ShadowKpiRecord[] {
    return this.shadows.rows(query.after ?? -Infinity, query.until ?? Infinity);
  }

  /**
   * Per profile, over a window of data time: the intervals it was in force (raw KPIs) and those it
   * ran as a shadow, taken together (cost, series, reduction, coverage, visibility), by name. A
   * profile without an interval in the window is not listed. Reads every row of the window: a day at
   * 10 s with the five profiles is about 43,000 rows.
   */
  compareProfiles(query: CompareQuery = {}): ProfileComparison[] {
    return this.shadows.compare(query);
  }

  /**
   * Drops raw KPIs, shadow profiles' KPIs, decisions and alerts older than 7 days before `now` (unix
   * s), and hourly KPIs older than 90 days. recordKpis does this by itself; this is for a caller with
   * its own clock.
   */
  prune(now: number): PruneResult {
    return this.pruneTx(now);
  }

  // Alert outbox (alerts.ts).

  /** Stores an alert, due at once; returns its id. */
  enqueueAlert(event: string, payload: unknown, time: number): number {
    return this.alerts.enqueue(event, payload, time);
  }

  /** Undelivered alerts due at `now` (next attempt <= now), the longest-waiting first. */
  pendingAlerts(now: number, limit: number): AlertRow[] {
    return this.alerts.pending(now, limit);
  }

  /** False when the alert is unknown or already delivered. */
  markAlertDelivered(id: number, time: number): boolean {
    return this.alerts.markDelivered(id, time);
  }

  /** Counts a failed attempt and holds the alert until `nextAttempt`. False when unknown or already delivered. */
  markAlertFailed(id: number, time: number, error: string, nextAttempt: number): boolean {
    return this.alerts.markFailed(id, time, error, nextAttempt);
  }

  // Control loop decisions (decisions.ts).

  /** Returns the decision's id. */
  recordDecision(decision: DecisionInput): number {
    return this.decisionLog.record(decision);
  }

  /** Decisions, newest first. */
  /** `changes`: only the checks that changed the profile. */
  decisions(query: TimeQuery & { changes?: boolean } = {}): DecisionRow[] {
    return this.decisionLog.recent(query);
  }
}

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the file up to SCHEMA_VERSION, one migration per transaction. IMMEDIATE takes the write
 * lock before reading the version, so two processes opening a new file at once migrate it once.
 */
function migrate(db: Database.Database): void {
  for (let version = userVersion(db); version < SCHEMA_VERSION; version = userVersion(db)) {
    db.transaction(() => {
      if (userVersion(db) !== version) return; // another process got there first
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}

/** An error of the database itself (disk full, I/O), as a write to the running store can fail. */
export function isSqliteError(err: unknown): boolean {
  return err instanceof Database.SqliteError;
}

/** A table or column name as an SQL identifier. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function describeSqliteError(err: InstanceType<typeof Database.SqliteError>): string {
  switch (err.code) {
    case 'SQLITE_NOTADB':
      return 'not an SQLite database (is it the nrdot-plus state store?)';
    case 'SQLITE_CORRUPT':
      return 'the database is corrupt; move it away to start afresh (the KPI history and profile journal in it are lost)';
    case 'SQLITE_CANTOPEN':
      return 'cannot open (check the directory exists and its permissions)';
    case 'SQLITE_BUSY':
      return 'locked by another process for more than 5 s';
    default:
      return err.message;
  }
}
