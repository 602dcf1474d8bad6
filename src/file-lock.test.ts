import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock, LockedError, lockText } from './file-lock.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => mkdtempSync(join(root, `d${++n}-`));

/** A pid no process has: one that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn('true', { stdio: 'ignore' });
  await once(p, 'exit');
  return p.pid!;
}

/** A child that takes each lock in turn when it reads "go", printing what happened to each, and holds those it won until its stdin ends. */
function taker(paths: string[]): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const script = `import { acquireLock } from ${JSON.stringify(fileURLToPath(new URL('./file-lock.js', import.meta.url)))};
    import { createInterface } from 'node:readline';
    console.log('ready');
    createInterface({ input: process.stdin }).once('line', () => {
      const outcomes = ${JSON.stringify(paths)}.map((path) => {
        try {
          acquireLock(path);
          return 'won';
        } catch (err) {
          return err.name === 'LockedError' ? 'refused ' + err.owner : 'error ' + err.message;
        }
      });
      console.log(JSON.stringify(outcomes));
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

describe('file lock', () => {
  it('gives a stale lock to exactly one of many processes taking it over at once', async () => {
    // Eight processes take the same 40 stale locks in turn: each lock has one winner, whom the others name.
    const dead = await deadPid();
    const dirs = Array.from({ length: 40 }, fresh);
    const paths = dirs.map((dir) => join(dir, 'agent.lock'));
    for (const path of paths) writeFileSync(path, lockText(dead));
    const takers = Array.from({ length: 8 }, () => taker(paths));
    try {
      for (const t of takers) assert.equal((await t.lines.next()).value, 'ready');
      for (const t of takers) t.child.stdin!.write('go\n');
      const outcomes = await Promise.all(takers.map(async (t) => JSON.parse((await t.lines.next()).value as string) as string[]));
      for (const [i, path] of paths.entries()) {
        const each = outcomes.map((o) => o[i]!);
        const winners = takers.filter((_, j) => each[j] === 'won');
        assert.equal(winners.length, 1, `lock ${i}: ${each.join(', ')}`);
        const winner = winners[0]!.child.pid!;
        assert.deepEqual(each.filter((o) => o !== 'won'), Array(7).fill(`refused ${winner}`), `lock ${i}`);
        assert.equal(readFileSync(path, 'utf8').split('\n')[0], String(winner), `lock ${i} is the winner's`);
        assert.deepEqual(readdirSync(dirs[i]!), ['agent.lock'], 'no claim or temporary file is left');
      }
    } finally {
      for (const t of takers) t.child.stdin!.end();
      await Promise.all(takers.map((t) => (t.child.exitCode === null ? once(t.child, 'exit') : null)));
    }
  });

  it('holds an empty lock just created (being written by another starter), and takes over one left empty', () => {
    const path = join(fresh(), 'agent.lock');
    writeFileSync(path, '');
    assert.throws(() => acquireLock(path), (err: unknown) => err instanceof LockedError && err.owner === 0 && /held by a process writing it now/.test(err.message));
    assert.equal(readFileSync(path, 'utf8'), '', 'the lock being written is not removed');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const release = acquireLock(path);
    assert.equal(readFileSync(path, 'utf8'), lockText(process.pid));
    release();
    assert.deepEqual(readdirSync(join(path, '..')), []);
  });

  it('takes over a stale lock whose last taker was killed before it finished', async () => {
    const dir = fresh();
    const path = join(dir, 'agent.lock');
    writeFileSync(path, lockText(await deadPid()));
    const st = statSync(path, { bigint: true });
    // The claim a killed taker left: the first one for this lock (its inode and time), naming a dead pid.
    writeFileSync(`${path}.takeover-${st.ino}-${st.mtimeNs}-0`, lockText(await deadPid()));
    const release = acquireLock(path);
    assert.equal(readFileSync(path, 'utf8'), lockText(process.pid));
    assert.deepEqual(readdirSync(dir), ['agent.lock'], 'the claims are gone');
    release();
  });

  it('refuses a lock held by a live process, and takes over one of a dead process (the pid alone, of an older version)', async () => {
    const path = join(fresh(), 'agent.lock');
    const live = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(path, lockText(live.pid!));
      assert.throws(() => acquireLock(path), (err: unknown) => err instanceof LockedError && err.owner === live.pid);
    } finally {
      live.kill('SIGKILL');
      await once(live, 'exit');
    }
    writeFileSync(path, `${await deadPid()}\n`);
    const release = acquireLock(path);
    assert.equal(readFileSync(path, 'utf8').split('\n')[0], String(process.pid));
    release();
  });
});
