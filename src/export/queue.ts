/**
 * The durable delivery queue (SPEC, "Export"): every batch is written to disk before it is sent, so
 * that nothing is lost while the backend is down, across a restart or a `kill -9`, within the
 * queue's bound; beyond it the oldest batches are dropped and counted.
 *
 * One file per batch, named by a sequence number, written to a temporary name, flushed, and renamed:
 * a crash leaves either the whole batch or none of it. The sender takes the oldest (`peek`) and
 * deletes it once delivered or given up (`remove`).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const SUFFIX = '.batch';
const TEMP_PREFIX = '.tmp-';

export interface QueuedBatch {
  id: number;
  payload: Buffer;
}

export interface DurableQueueOptions {
  dir: string;
  /** Bound on the bytes the queue holds. */
  maxBytes: number;
}

export class DurableQueue {
  private readonly dir: string;
  private readonly maxBytes: number;
  /** Ids and sizes of the batches on disk, oldest first. */
  private readonly entries: Array<{ id: number; size: number }> = [];
  private nextId = 1;
  private totalBytes = 0;
  /** Batches (and their bytes) dropped to stay within the bound since this queue was opened. */
  dropped = 0;
  droppedBytes = 0;

  constructor(options: DurableQueueOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      // A batch that was being written when the agent died never became visible: discard it.
      if (name.startsWith(TEMP_PREFIX)) rmSync(join(this.dir, name), { force: true });
    }
    const ids = readdirSync(this.dir)
      .filter((n) => n.endsWith(SUFFIX) && /^\d+$/.test(n.slice(0, -SUFFIX.length)))
      .map((n) => Number(n.slice(0, -SUFFIX.length)))
      .sort((a, b) => a - b);
    for (const id of ids) {
      const size = statSync(this.path(id)).size;
      this.entries.push({ id, size });
      this.totalBytes += size;
      this.nextId = id + 1;
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

  /** Stores a batch durably; drops the oldest ones first if it would not fit. Returns its id. */
  enqueue(payload: Uint8Array): number {
    if (payload.length > this.maxBytes) {
      // Larger than the whole queue: it can only be dropped.
      this.dropped++;
      this.droppedBytes += payload.length;
      return 0;
    }
    while (this.totalBytes + payload.length > this.maxBytes && this.entries.length > 0) {
      const oldest = this.entries.shift()!;
      rmSync(this.path(oldest.id), { force: true });
      this.totalBytes -= oldest.size;
      this.dropped++;
      this.droppedBytes += oldest.size;
    }
    const id = this.nextId++;
    const temp = join(this.dir, `${TEMP_PREFIX}${id}`);
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, payload);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path(id));
    this.entries.push({ id, size: payload.length });
    this.totalBytes += payload.length;
    return id;
  }

  /** The oldest batch, or null when the queue is empty. */
  peek(): QueuedBatch | null {
    const oldest = this.entries[0];
    if (!oldest) return null;
    return { id: oldest.id, payload: readFileSync(this.path(oldest.id)) };
  }

  /** Removes a batch (delivered, or given up on). */
  remove(id: number): void {
    const i = this.entries.findIndex((e) => e.id === id);
    if (i < 0) return;
    const [entry] = this.entries.splice(i, 1);
    rmSync(this.path(id), { force: true });
    this.totalBytes -= entry!.size;
  }

  private path(id: number): string {
    return join(this.dir, `${String(id).padStart(12, '0')}${SUFFIX}`);
  }
}
