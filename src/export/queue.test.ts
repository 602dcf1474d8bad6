import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lockText } from '../file-lock.js';
import { DurableQueue } from './queue.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-queue-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `q${++n}`);
const batch = (i: number, size = 100): Buffer => Buffer.alloc(size, i);

describe('durable queue', () => {
  it('hands batches out oldest first and forgets them once removed', () => {
    const q = new DurableQueue({ dir: fresh(), maxBytes: 10_000 });
    const keys = [1, 2, 3].map((i) => q.enqueue(batch(i)));
    assert.equal(q.depth, 3);
    assert.equal(q.bytes, 300);
    for (const [k, key] of keys.entries()) {
      const b = q.peek()!;
      assert.equal(b.key, key);
      assert.equal(b.payload[0], k + 1);
      q.remove(b.key);
    }
    assert.equal(q.peek(), null);
    assert.equal(q.bytes, 0);
  });

  it('stays within its bound by dropping the oldest batches, and counts them', () => {
    const q = new DurableQueue({ dir: fresh(), maxBytes: 350 });
    for (let i = 1; i <= 5; i++) q.enqueue(batch(i));
    assert.equal(q.depth, 3);
    assert.equal(q.peek()!.payload[0], 3, 'batches 1 and 2 were dropped');
    assert.deepEqual([q.dropped, q.droppedBytes], [2, 200]);
    assert.equal(q.enqueue(batch(9, 1000)), '', 'a batch larger than the queue is dropped');
    assert.equal(q.dropped, 3);
  });

  it('does not drop the batch being sent to make room', () => {
    const q = new DurableQueue({ dir: fresh(), maxBytes: 250 });
    q.enqueue(batch(1));
    q.enqueue(batch(2));
    const sending = q.peek()!;
    q.enqueue(batch(3));
    assert.equal(q.depth, 2);
    assert.equal(q.peek()!.key, sending.key, 'batch 1 is still there; batch 2 went instead');
    assert.equal(q.dropped, 1);
  });

  it('skips batch files removed from the directory, counts them as lost once, and recreates a removed directory', () => {
    const dir = fresh();
    const told: Array<[string[], boolean]> = [];
    const q = new DurableQueue({ dir, maxBytes: 10_000, onLost: (keys, folder) => told.push([keys, folder]) });
    const keys = [1, 2, 3, 4].map((i) => q.enqueue(batch(i)));
    rmSync(join(dir, `${keys[0]}.batch`));
    assert.equal(q.peek()!.key, keys[1], 'peek skips the file that is gone');
    rmSync(join(dir, `${keys[2]}.batch`));
    q.enqueue(batch(5));
    assert.deepEqual([q.depth, q.bytes, q.lost], [3, 300, 2], 'the index matches the directory before a batch is queued');
    rmSync(dir, { recursive: true });
    q.enqueue(batch(6));
    assert.deepEqual([q.depth, q.lost], [2, 4], 'batch 2, being sent, is left to its answer: 4 and 5 are lost');
    assert.equal(q.peek()!.key, '000000000006', 'batch 2 is found gone when it is to be sent again');
    assert.deepEqual([q.depth, q.bytes, q.lost], [1, 100, 5]);
    assert.deepEqual(told, [[[keys[0]], false], [[keys[2]], false], [[keys[3], '000000000005'], true], [[keys[1]], false]]);
    assert.deepEqual(readdirSync(dir).sort(), ['.lock', '000000000006.batch'], 'recreated, and locked again');
  });

  it('replaces a batch by its halves in its place, also across a restart', () => {
    const dir = fresh();
    const q = new DurableQueue({ dir, maxBytes: 10_000 });
    const first = q.enqueue(batch(1));
    q.enqueue(batch(2));
    q.split(first, [batch(11, 50), batch(12, 50)]);
    q.split(q.peek()!.key, [batch(21, 25), batch(22, 25)]);
    const order = (queue: DurableQueue): number[] => {
      const seen: number[] = [];
      for (let b = queue.peek(); b !== null; b = queue.peek()) {
        seen.push(b.payload[0]!);
        queue.remove(b.key);
      }
      return seen;
    };
    assert.equal(q.bytes, 25 + 25 + 50 + 100);
    assert.deepEqual(order(new DurableQueue({ dir, maxBytes: 10_000 })), [21, 22, 12, 2]);
  });

  it('after a crash between writing the halves and removing the whole, sends only the halves', () => {
    const dir = fresh();
    const q = new DurableQueue({ dir, maxBytes: 10_000 });
    const key = q.enqueue(batch(1));
    // What split() leaves on disk if the agent dies just before it removes the whole.
    writeFileSync(join(dir, `${key}-0.batch`), batch(11, 50));
    writeFileSync(join(dir, `${key}-1.batch`), batch(12, 50));
    const reopened = new DurableQueue({ dir, maxBytes: 10_000 });
    assert.equal(reopened.depth, 2);
    assert.equal(reopened.peek()!.payload[0], 11);
    assert.ok(!readdirSync(dir).includes(`${key}.batch`));
  });

  it('keeps what was queued across a restart, in order, and discards a half-written batch', () => {
    const dir = fresh();
    const q = new DurableQueue({ dir, maxBytes: 10_000 });
    q.enqueue(batch(1));
    q.enqueue(batch(2));
    writeFileSync(join(dir, '.tmp-3'), 'partial');
    const reopened = new DurableQueue({ dir, maxBytes: 10_000 });
    assert.equal(reopened.depth, 2);
    assert.equal(reopened.peek()!.payload[0], 1);
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('.tmp-')));
    const key = reopened.enqueue(batch(3));
    assert.equal(key, '000000000003', 'new keys continue after the old ones');
  });

  it('after a crash while writing the halves, keeps the whole and drops the stray half', () => {
    const dir = fresh();
    const q = new DurableQueue({ dir, maxBytes: 10_000 });
    const key = q.enqueue(batch(1));
    writeFileSync(join(dir, `${key}-0.batch`), batch(11, 50));
    const reopened = new DurableQueue({ dir, maxBytes: 10_000 });
    assert.equal(reopened.depth, 1);
    assert.equal(reopened.peek()!.payload[0], 1);
  });

  it('belongs to one agent at a time, and is taken over from one that died', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, '.lock'), lockText(other.pid!));
      assert.throws(() => new DurableQueue({ dir, maxBytes: 100 }), new RegExp(`in use by another nrdot-plus \\(pid ${other.pid}\\)`));
    } finally {
      other.kill('SIGKILL');
      await once(other, 'exit');
    }
    const q = new DurableQueue({ dir, maxBytes: 100 });
    q.close();
    assert.ok(!readdirSync(dir).includes('.lock'));
  });

  it('survives kill -9 in the middle of enqueuing: every batch on disk is whole', async () => {
    const dir = fresh();
    // A child that enqueues 64 KiB batches as fast as it can until it is killed.
    const script = `import { DurableQueue } from ${JSON.stringify(fileURLToPath(new URL('./queue.js', import.meta.url)))};
      const q = new DurableQueue({ dir: ${JSON.stringify(dir)}, maxBytes: 1e9 });
      for (let i = 0; ; i++) { q.enqueue(Buffer.alloc(65536, i % 256)); if (i === 20) process.stdout.write('go\\n'); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const q = new DurableQueue({ dir, maxBytes: 1e9 });
    assert.ok(q.depth >= 21);
    for (let b = q.peek(); b !== null; b = q.peek()) {
      assert.equal(b.payload.length, 65536);
      assert.ok(b.payload.every((x) => x === b!.payload[0]));
      q.remove(b.key);
    }
  });
});
