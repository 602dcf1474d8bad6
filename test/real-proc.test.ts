/** The receiver against this machine's real /proc. */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { groupName } from '../src/pipeline/rollup.js';
import { ProcfsReader } from '../src/procfs/index.js';
import { CUT_MARK, MAX_CMDLINE } from '../src/snapshot/cmdline.js';
import type { ProcessSample } from '../src/snapshot/types.js';

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'nrdot-real-'));
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function start(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn'); // exec has happened: argv and comm are the new program's
  return child;
}

function finite(p: ProcessSample): boolean {
  return Object.values(p).every((v) => typeof v !== 'number' || Number.isFinite(v));
}

describe('ProcfsReader on the real /proc', () => {
  it('reads the same values whether it holds files open or reads by path', async () => {
    const child = await start('sleep', ['304']);
    const held = new ProcfsReader();
    const few = new ProcfsReader({ heldFileBudget: 8 }); // two processes held, the rest by path
    try {
      for (const r of [held, few]) r.read();
      const a = held.read().snapshot.processes.find((p) => p.pid === child.pid)!;
      const b = few.read().snapshot.processes.find((p) => p.pid === child.pid)!;
      assert.ok(a && b);
      assert.deepEqual({ ...b, ctx_voluntary: 0, ctx_involuntary: 0 }, { ...a, ctx_voluntary: 0, ctx_involuntary: 0 });
    } finally {
      held.close();
      few.close();
    }
  });

  it('finds a child process with its ppid, command line, user, exe and memory', async () => {
    const child = await start('sleep', ['300']);
    const reader = new ProcfsReader({ intervalSeconds: 10 });
    try {
      const { snapshot, stats } = reader.read();
      const p = snapshot.processes.find((q) => q.pid === child.pid);
      assert.ok(p, 'the child is in the snapshot');
      assert.equal(p.ppid, process.pid);
      assert.equal(p.name, 'sleep');
      assert.equal(p.cmdline, 'sleep 300');
      assert.equal(p.user, userInfo().username);
      assert.match(p.exe, /\/sleep$/);
      assert.ok(p.rss_bytes > 0, 'positive RSS');
      assert.ok(p.vms_bytes >= p.rss_bytes);
      assert.ok(Math.abs(p.start_time - Date.now() / 1000) < 60, `start_time ${p.start_time} is about now`);
      assert.ok(p.fds !== null && p.fds >= 0);
      assert.ok(p.threads >= 1);
      assert.equal(snapshot.processes.find((q) => q.pid === process.pid)?.name, 'node');
      assert.equal(snapshot.host.cpus > 0 && snapshot.host.memory_bytes > 0, true);
      assert.ok(snapshot.processes.every(finite));
      assert.equal(stats.otherErrors, 0);
    } finally {
      reader.close();
    }
  });

  it('reads a command line up to its bound: whole arguments, then the cut mark', async () => {
    // bash -c 'sleep N; :' keeps bash (and its arguments) alive. Its command line starts with:
    const head = (n: number): string => `bash -c sleep ${n}; :`;
    const argsOf = (n: number, ...args: string[]): Promise<ChildProcess> => start('bash', ['-c', `sleep ${n}; :`, ...args]);
    // Arguments of 4 KiB and 128 KiB, exactly the bound, one over, 6000 bytes of two-byte characters.
    const long = await argsOf(301, 'x'.repeat(3000), 'a.'.repeat(65535));
    const exact = await argsOf(302, 'y'.repeat(MAX_CMDLINE - head(302).length - 1));
    const justOver = await argsOf(303, 'z'.repeat(MAX_CMDLINE - head(303).length));
    const wide = await argsOf(304, 'é'.repeat(3000));
    const reader = new ProcfsReader();
    try {
      const processes = reader.read().snapshot.processes;
      const cmdline = (c: ChildProcess): string | undefined => processes.find((p) => p.pid === c.pid)?.cmdline;
      assert.equal(cmdline(long), `${head(301)} ${'x'.repeat(3000)} ${CUT_MARK}`);
      assert.equal(cmdline(exact)?.length, MAX_CMDLINE, 'exactly the bound is not cut');
      assert.equal(cmdline(exact), `${head(302)} ${'y'.repeat(MAX_CMDLINE - head(302).length - 1)}`);
      assert.equal(cmdline(justOver), `${head(303)} ${CUT_MARK}`);
      assert.equal(cmdline(wide), `${head(304)} ${CUT_MARK}`, 'the bound is in bytes as read: 4096 bytes hold fewer of these');
    } finally {
      reader.close();
    }
  });

  it('reads a name with spaces and parentheses as the kernel holds it', async () => {
    const link = join(dir, 'a) b (c');
    symlinkSync(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), link);
    const child = await start(link, ['301']);
    const reader = new ProcfsReader();
    try {
      const p = reader.read().snapshot.processes.find((q) => q.pid === child.pid);
      assert.equal(p?.name, 'a) b (c');
      assert.equal(p?.cmdline, `${link} 301`);
    } finally {
      reader.close();
    }
  });

  it('drops a process that exits, and keeps start_time stable for one that stays', async () => {
    const stays = await start('sleep', ['302']);
    const goes = await start('sleep', ['303']);
    const reader = new ProcfsReader();
    try {
      const first = reader.read().snapshot.processes;
      assert.ok(first.some((p) => p.pid === goes.pid));
      goes.kill('SIGKILL');
      await once(goes, 'exit');
      const second = reader.read().snapshot.processes;
      assert.ok(!second.some((p) => p.pid === goes.pid), 'the exited process is gone');
      const a = first.find((p) => p.pid === stays.pid)!;
      const b = second.find((p) => p.pid === stays.pid)!;
      assert.equal(b.start_time, a.start_time);
    } finally {
      reader.close();
    }
  });

  it('scrapes cleanly while 500 short-lived processes start and exit around it', async () => {
    const reader = new ProcfsReader({ intervalSeconds: 1 });
    const total = 500;
    const concurrency = 40;
    let started = 0;
    let running = 0;
    let scrapes = 0;
    let sightings = 0;
    const pids = new Set<number>();
    try {
      await new Promise<void>((resolve, reject) => {
        const pump = (): void => {
          while (running < concurrency && started < total) {
            const c = spawn('sleep', ['0.02'], { stdio: 'ignore' });
            started++;
            running++;
            if (c.pid) pids.add(c.pid);
            c.on('error', reject);
            c.on('exit', () => {
              running--;
              if (started === total && running === 0) resolve();
              else pump();
            });
          }
          try {
            const { snapshot, stats } = reader.read();
            scrapes++;
            assert.equal(stats.otherErrors, 0);
            for (const p of snapshot.processes) {
              assert.ok(finite(p), `pid ${p.pid} has a non-finite field`);
              if (pids.has(p.pid)) sightings++;
            }
          } catch (err) {
            reject(err); // an assertion inside an exit listener would otherwise be uncaught
          }
        };
        pump();
      });
    } finally {
      reader.close();
    }
    assert.ok(scrapes >= 10, `${scrapes} scrapes ran during the storm`);
    assert.ok(sightings > 0, 'the scrapes saw short-lived processes');
  });

  it('groups programs run from a memfd by the memfd\'s name, its hash folded', async () => {
    // As container runtimes and sandboxes do: copy a program into a memfd and run it from there.
    const script = 'import os,sys\nfd=os.memfd_create(sys.argv[1],0)\nos.write(fd,open("/bin/sleep","rb").read())\nos.execv("/proc/self/fd/%d"%fd,["sleep","303"])';
    const names = ['sealed-91173221a7ea', 'sealed-0c4e5f6a7b8d'];
    for (const name of names) await start('python3', ['-c', script, name]);
    let found: ProcessSample[] = [];
    try {
      // `spawn` fires at the first exec (python, or a version manager's shim in front of it); the
      // memfd's exec follows: read until both show it (a fresh reader each time: a reader keeps
      // the exe it saw first for an interval).
      for (let i = 0; i < 200 && found.length < 2; i++) {
        const reader = new ProcfsReader();
        found = reader.read().snapshot.processes.filter((p) => names.some((n) => p.exe === `/memfd:${n} (deleted)`) && p.cmdline === 'sleep 303');
        reader.close();
        if (found.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(found.map((p) => p.exe).sort(), ['/memfd:sealed-0c4e5f6a7b8d (deleted)', '/memfd:sealed-91173221a7ea (deleted)']);
      assert.deepEqual(found.map(groupName), ['memfd:sealed-*', 'memfd:sealed-*']);
    } finally {
      for (const p of found) process.kill(p.pid, 'SIGKILL');
    }
  });
});
