import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DurableQueue } from './queue.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-queue-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `q${++n}`);
const batch = (i: number, size = 100): Buffer => Buffer.alloc(size, i);

describe('durable queue', () => {
  it('hands batches out oldest first and forgets them once removed', () => {
    const q = new DurableQueue({ dir: fresh(), maxBytes: 10_000 });
    const ids = [1, 2, 3].map((i) => q.enqueue(batch(i)));
    assert.equal(q.depth, 3);
    assert.equal(q.bytes, 300);
    for (const [k, id] of ids.entries()) {
      const b = q.peek()!;
      assert.equal(b.id, id);
      assert.equal(b.payload[0], k + 1);
      q.remove(b.id);
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
    assert.equal(q.enqueue(batch(9, 1000)), 0, 'a batch larger than the queue is dropped');
    assert.equal(q.dropped, 3);
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
    const id = reopened.enqueue(batch(3));
    assert.ok(id > 2, 'new ids continue after the old ones');
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
      q.remove(b.id);
    }
  });
});
