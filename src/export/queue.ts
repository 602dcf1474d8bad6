/**
 * The durable delivery queue (SPEC, "Export"): every batch is written to disk before it is sent, so
 * that nothing is lost while the backend is down, across a restart or a `kill -9`, within the
 * queue's bound; beyond it the oldest batches are dropped and counted.
 *
 * One file per batch, named by a sequence number, written to a temporary name, flushed, and renamed:
 * a crash leaves either the whole batch or none of it. The sender takes the oldest (`peek`) and
 * deletes it once delivered or given up (`remove`), or replaces it by its halves (`split`, for a backend
 * that finds it too large).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLock, LockedError } from '../file-lock.js';

const SUFFIX = '.batch';
const LOCK = '.lock';
const TEMP_PREFIX = '.tmp-';
/** A key: a 12-digit sequence number, then `-0` / `-1` for each split (so the halves sort in place). */
const KEY = /^\d{12}(-[01])*$/;

export interface QueuedBatch {
  key: string;
  payload: Buffer;
}

export interface DurableQueueOptions {
  dir: string;
  /** Bound on the bytes the queue holds. */
  maxBytes: number;
  /**
   * Told of batches that vanished from the directory (removed outside the agent, or the whole
   * directory removed: `folder` true), once each: they are skipped and counted in `lost`.
   */
  onLost?: (keys: string[], folder: boolean) => void;
}

export class DurableQueue {
  private readonly dir: string;
  private readonly maxBytes: number;
  /** Keys and sizes of the batches on disk, oldest first. */
  private readonly entries: Array<{ key: string; size: number }> = [];
  private nextId = 1;
  private totalBytes = 0;
  private unlock: () => void = () => undefined;
  /** The batch being sent (handed out by peek): not dropped to make room. */
  private busy: string | null = null;
  /** Batches (and their bytes) dropped since this queue was opened: to stay within the bound, or not writable (disk full). */
  dropped = 0;
  droppedBytes = 0;
  /** Batches that vanished from the directory since this queue was opened (skipped, never retried). */
  lost = 0;
  private readonly onLost: (keys: string[], folder: boolean) => void;

  constructor(options: DurableQueueOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.onLost = options.onLost ?? (() => undefined);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lock();
    for (const name of readdirSync(this.dir)) {
      // A batch that was being written when the agent died never became visible: discard it.
      if (name.startsWith(TEMP_PREFIX)) rmSync(join(this.dir, name), { force: true });
    }
    const keys = readdirSync(this.dir)
      .filter((n) => n.endsWith(SUFFIX) && KEY.test(n.slice(0, -SUFFIX.length)))
      .map((n) => n.slice(0, -SUFFIX.length))
      .sort();
    const present = new Set(keys);
    const gone = new Set<string>();
    for (const key of keys) {
      if (gone.has(key) || !keys.some((k) => k.startsWith(`${key}-`))) continue;
      // The agent died during a split. Both halves in place: the whole goes. Otherwise the halves do.
      const complete = present.has(`${key}-0`) && present.has(`${key}-1`);
      for (const k of complete ? [key] : keys.filter((x) => x.startsWith(`${key}-`))) {
        rmSync(this.path(k), { force: true });
        gone.add(k);
      }
    }
    for (const key of keys) {
      if (gone.has(key)) continue;
      const size = statSync(this.path(key)).size;
      this.entries.push({ key, size });
      this.totalBytes += size;
      this.nextId = Number(key.slice(0, 12)) + 1;
    }
  }

  /** Batches waiting. */
  get depth(): number {
    return this.entries.length;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.totalBytes;
  }

  /**
   * Stores a batch durably, then drops the oldest ones if the queue is past its bound. Returns its key
   * ('' if dropped). A batch that cannot be written (disk full) is dropped, counted, and the error
   * thrown: nothing queued before is lost.
   */
  enqueue(payload: Uint8Array): string {
    this.reconcile();
    if (payload.length > this.maxBytes) {
      // Larger than the whole queue: it can only be dropped.
      this.dropped++;
      this.droppedBytes += payload.length;
      return '';
    }
    const key = String(this.nextId++).padStart(12, '0');
    try {
      this.write(key, payload);
    } catch (err) {
      this.dropped++;
      this.droppedBytes += payload.length;
      throw err;
    }
    this.entries.push({ key, size: payload.length });
    this.totalBytes += payload.length;
    while (this.totalBytes > this.maxBytes) {
      const i = this.entries[0]?.key === this.busy ? 1 : 0;
      const oldest = this.entries[i];
      if (!oldest || oldest.key === key) break;
      this.entries.splice(i, 1);
      rmSync(this.path(oldest.key), { force: true });
      this.totalBytes -= oldest.size;
      this.dropped++;
      this.droppedBytes += oldest.size;
    }
    return key;
  }

  /**
   * The oldest batch, or null when the queue is empty. It is not dropped to make room until removed
   * or released. A batch whose file is gone is skipped and counted as lost.
   */
  peek(): QueuedBatch | null {
    for (let oldest = this.entries[0]; oldest; oldest = this.entries[0]) {
      let payload: Buffer;
      try {
        payload = readFileSync(this.path(oldest.key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // Gone: so may be others, or the whole directory. Nothing is being sent while we peek.
        this.busy = null;
        this.reconcile();
        continue;
      }
      this.busy = oldest.key;
      return { key: oldest.key, payload };
    }
    return null;
  }

  /** The batch handed out by peek is no longer being sent (it will be retried): it may be dropped to make room. */
  release(key: string): void {
    if (this.busy === key) this.busy = null;
  }

  /**
   * Matches the index with the directory: batches whose files are gone are forgotten and counted as
   * lost, and a removed directory is recreated (and locked again), so that the depth tells the truth.
   * The batch being sent is left to its answer. Called before each batch is queued.
   */
  private reconcile(): void {
    let names: Set<string>;
    let folder = false;
    try {
      names = new Set(readdirSync(this.dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.unlock();
      this.lock();
      names = new Set();
      folder = true;
    }
    const gone = this.entries.filter((e) => e.key !== this.busy && !names.has(`${e.key}${SUFFIX}`)).map((e) => e.key);
    if (gone.length > 0 || folder) this.forget(gone, folder);
  }

  /** Removes a batch (delivered, or given up on). */
  remove(key: string): void {
    if (this.busy === key) this.busy = null;
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return;
    const [entry] = this.entries.splice(i, 1);
    rmSync(this.path(key), { force: true });
    this.totalBytes -= entry!.size;
  }

  /**
   * Replaces a batch by its two halves, in its place. The halves are durable before the whole goes;
   * a crash in between leaves both, and the next open removes the whole.
   */
  split(key: string, halves: [Uint8Array, Uint8Array]): void {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return;
    const parts = halves.map((payload, h) => ({ key: `${key}-${h}`, payload }));
    for (const p of parts) this.write(p.key, p.payload);
    this.remove(key); // only now: a crash before leaves the whole and both halves, and the open keeps the halves
    this.entries.splice(i, 0, ...parts.map((p) => ({ key: p.key, size: p.payload.length })));
    for (const p of parts) this.totalBytes += p.payload.length;
  }

  /** Drops batches whose files are gone from the index, counts them as lost and says so once. */
  private forget(keys: string[], folder: boolean): void {
    const gone = new Set(keys);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (!gone.has(e.key)) continue;
      this.entries.splice(i, 1);
      this.totalBytes -= e.size;
    }
    this.lost += keys.length;
    this.onLost(keys, folder);
  }

  /** Gives the directory up to the next agent. */
  close(): void {
    this.unlock();
  }

  /** One agent per queue: two would overwrite each other's batches and send them twice. */
  private lock(): void {
    try {
      this.unlock = acquireLock(join(this.dir, LOCK));
    } catch (err) {
      if (!(err instanceof LockedError)) throw err;
      throw new Error(`in use by another nrdot-plus (${err.who}); one agent per data directory (remove ${err.path} if that pid is not an agent)`);
    }
  }

  private write(key: string, payload: Uint8Array): void {
    const temp = join(this.dir, `${TEMP_PREFIX}${key}`);
    try {
      const fd = openSync(temp, 'w', 0o600);
      try {
        writeFileSync(fd, payload); // all of it: a write cut short by a full disk throws
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.path(key));
    } catch (err) {
      rmSync(temp, { force: true }); // a batch cut short (disk full) never becomes visible
      throw err;
    }
  }

  private path(key: string): string {
    return join(this.dir, `${key}${SUFFIX}`);
  }
}

