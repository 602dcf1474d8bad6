import assert from 'node:assert/strict';
import { rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildProcfs, removeProcess, writeProcess, type FakeProcess } from '../../test/fakeproc.js';
import type { ProcessSample } from '../snapshot/types.js';
import { ProcfsReader } from './reader.js';
import { UserResolver } from './users.js';

const BTIME = 1_700_000_000;
const TICKS = 100;
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const passwd = join(mkdtempSync(join(tmpdir(), 'nrdot-passwd-')), 'passwd');
writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\npostgres:x:104:110::/var/lib/postgresql:/bin/sh\n');

/** A reader over a fixture tree, with a clock the test moves. */
function fixture(processes: FakeProcess[], intervalSeconds = 10) {
  const root = buildProcfs({ btime: BTIME, cpus: 8, memTotalKb: 16_000_000, processes });
  roots.push(root);
  const clock = { now: BTIME + 1000 };
  const reader = new ProcfsReader({
    root,
    intervalSeconds,
    hostId: 'test-host',
    hostName: 'test-host',
    clock: () => clock.now,
    users: new UserResolver({ passwdPath: passwd, useGetent: false }),
    systemConstants: { clockTicks: TICKS, pageSize: 4096 },
  });
  return { root, reader, clock };
}

function byPid(processes: ProcessSample[], pid: number): ProcessSample | undefined {
  return processes.find((p) => p.pid === pid);
}

function assertNoNaN(p: ProcessSample): void {
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'number') assert.ok(Number.isFinite(v), `${k} of pid ${p.pid} is ${v}`);
  }
}

describe('ProcfsReader on a procfs tree', () => {
  it('fills every field of the contract, with units converted by CLK_TCK and the page size', () => {
    const { reader } = fixture([
      {
        pid: 4321,
        name: 'postgres',
        ppid: 1,
        uid: 104,
        state: 'S',
        startTicks: 50_000,
        utimeTicks: 1234,
        stimeTicks: 567,
        minorFaults: 900,
        majorFaults: 12,
        threads: 4,
        vsizeBytes: 300_000_000,
        rssPages: 5000,
        cmdline: ['/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/15/main'],
        exe: '/usr/lib/postgresql/15/bin/postgres',
        io: { read: 1_048_576, write: 2_097_152 },
        fds: 17,
        cgroup: '0::/system.slice/postgresql@15-main.service',
        voluntary: 5000,
        involuntary: 40,
      },
    ]);
    const { snapshot, stats } = reader.read();
    assert.equal(snapshot.schema, 'nrdot.snapshot/v1');
    assert.deepEqual(snapshot.host, { id: 'test-host', name: 'test-host', cpus: 8, memory_bytes: 16_000_000 * 1024, boot_time: BTIME });
    assert.equal(snapshot.timestamp, BTIME + 1000);
    assert.deepEqual(snapshot.processes, [
      {
        pid: 4321,
        ppid: 1,
        name: 'postgres',
        exe: '/usr/lib/postgresql/15/bin/postgres',
        cmdline: '/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main',
        user: 'postgres',
        state: 'S',
        start_time: BTIME + 500,
        cpu_user_seconds: 12.34,
        cpu_system_seconds: 5.67,
        rss_bytes: 5000 * 4096,
        vms_bytes: 300_000_000,
        threads: 4,
        fds: 17,
        io_read_bytes: 1_048_576,
        io_write_bytes: 2_097_152,
        minor_faults: 900,
        major_faults: 12,
        ctx_voluntary: 5000,
        ctx_involuntary: 40,
        cgroup: '0::/system.slice/postgresql@15-main.service',
      },
    ]);
    assert.equal(stats.processes, 1);
    assert.equal(stats.otherErrors, 0);
  });

  it('handles the nasty cases a real host has without NaN or a crash', () => {
    const { reader } = fixture([
      { pid: 2, name: 'kthreadd', ppid: 0, exe: null, cmdline: [], io: { read: 0, write: 0 }, fds: 0, rssPages: 0, vsizeBytes: 0 },
      { pid: 12, name: 'kworker/0:1-events', ppid: 2, exe: null, cmdline: [], rssPages: 0, vsizeBytes: 0, state: 'I', fds: 0 },
      { pid: 100, name: 'defunct', state: 'Z', exe: null, cmdline: [], rssPages: 0, fds: 0 },
      { pid: 101, name: 'tmux: server', cmdline: ['tmux'] },
      { pid: 102, name: 'a) b (c', cmdline: ['./a) b (c'] },
      { pid: 103, name: 'new\nline', cmdline: ['x'] },
      { pid: 104, name: Buffer.from([0xff, 0xfe, 0x41]), cmdline: ['bin'] },
      { pid: 105, name: 'nginx', cmdline: 'nginx: worker process', uid: 4242424 },
      { pid: 106, name: 'no-io', io: null, cgroup: null },
    ]);
    const { snapshot, stats } = reader.read();
    assert.equal(snapshot.processes.length, 9);
    snapshot.processes.forEach(assertNoNaN);
    const kthread = byPid(snapshot.processes, 12)!;
    assert.equal(kthread.exe, '');
    assert.equal(kthread.cmdline, '');
    assert.equal(kthread.ppid, 2);
    assert.equal(kthread.state, 'I');
    const zombie = byPid(snapshot.processes, 100)!;
    assert.equal(zombie.state, 'Z');
    assert.equal(zombie.exe, '');
    assert.equal(byPid(snapshot.processes, 101)!.name, 'tmux: server');
    assert.equal(byPid(snapshot.processes, 102)!.name, 'a) b (c');
    assert.equal(byPid(snapshot.processes, 103)!.name, 'new\nline');
    assert.equal(byPid(snapshot.processes, 104)!.name, '\uFFFD\uFFFDA');
    const retitled = byPid(snapshot.processes, 105)!;
    assert.equal(retitled.cmdline, 'nginx: worker process');
    assert.equal(retitled.user, '4242424', 'a uid without a name is reported as the number');
    const noIo = byPid(snapshot.processes, 106)!;
    assert.equal(noIo.io_read_bytes, null);
    assert.equal(noIo.cgroup, null);
    assert.equal(stats.otherErrors, 0);
  });

  it('skips a process that exited between the listing and its reads, and counts it', () => {
    const { reader } = fixture([
      { pid: 10, name: 'alive' },
      { pid: 11, name: 'gone-before-stat', missing: ['stat'] },
      { pid: 12, name: 'gone-before-status', missing: ['status'] },
    ]);
    const { snapshot, stats } = reader.read();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), [10]);
    assert.equal(stats.vanished, 2);
    assert.equal(reader.trackedCount, 1, 'nothing is remembered for processes that are gone');
  });

  it('skips a malformed stat file as an error, not a crash', () => {
    const { reader } = fixture([
      { pid: 10, name: 'fine' },
      { pid: 11, name: 'broken', rawStat: '11 (broken) S 1 2 3\n' },
    ]);
    const { snapshot, stats } = reader.read();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), [10]);
    assert.equal(stats.otherErrors, 1);
  });

  it('reads static attributes at first sight, once more after a full interval, then freezes them', () => {
    // Started 2 s before the first read, interval 10 s.
    const young: FakeProcess = { pid: 500, name: 'php-fpm', startTicks: 998 * TICKS, cmdline: ['php-fpm: master process'] };
    const old: FakeProcess = { pid: 501, name: 'sshd', startTicks: 10 * TICKS, cmdline: ['sshd: /usr/sbin/sshd -D'] };
    const { reader, root, clock } = fixture([young, old], 10);
    let s = reader.read().snapshot;
    assert.equal(byPid(s.processes, 500)!.cmdline, 'php-fpm: master process');

    // The service retitles itself; a young process is read again once it has lived an interval.
    writeProcess(root, { ...young, cmdline: 'php-fpm: pool www', utimeTicks: 50 });
    writeProcess(root, { ...old, cmdline: 'sshd: alice [priv]' });
    clock.now += 5; // age 7 s: not yet
    s = reader.read().snapshot;
    assert.equal(byPid(s.processes, 500)!.cmdline, 'php-fpm: master process');
    assert.equal(byPid(s.processes, 500)!.cpu_user_seconds, 0.5, 'dynamic fields are read every time');
    clock.now += 5; // age 12 s: read once more
    s = reader.read().snapshot;
    assert.equal(byPid(s.processes, 500)!.cmdline, 'php-fpm: pool www');
    assert.equal(byPid(s.processes, 501)!.cmdline, 'sshd: /usr/sbin/sshd -D', 'first seen old: frozen at once');

    writeProcess(root, { ...young, cmdline: 'php-fpm: pool other', exe: '/elsewhere' });
    clock.now += 10;
    s = reader.read().snapshot;
    assert.equal(byPid(s.processes, 500)!.cmdline, 'php-fpm: pool www', 'frozen for this identity');
  });

  it('treats a reused pid as a new identity', () => {
    const first: FakeProcess = { pid: 42, name: 'worker', startTicks: 100 * TICKS, cmdline: ['worker', '--old'], uid: 0 };
    const { reader, root, clock } = fixture([first]);
    let p = byPid(reader.read().snapshot.processes, 42)!;
    assert.equal(p.start_time, BTIME + 100);
    assert.equal(p.user, 'root');
    writeProcess(root, { pid: 42, name: 'worker', startTicks: 900 * TICKS, cmdline: ['worker', '--new'], uid: 104 });
    clock.now += 10;
    p = byPid(reader.read().snapshot.processes, 42)!;
    assert.equal(p.start_time, BTIME + 900);
    assert.equal(p.cmdline, 'worker --new');
    assert.equal(p.user, 'postgres');
  });

  it('forgets processes that exited', () => {
    const { reader, root } = fixture([{ pid: 1, name: 'init' }, { pid: 77, name: 'job' }]);
    assert.equal(reader.read().snapshot.processes.length, 2);
    removeProcess(root, 77);
    const { snapshot } = reader.read();
    assert.deepEqual(snapshot.processes.map((p) => p.pid), [1]);
    assert.equal(reader.trackedCount, 1);
  });

  it('keeps start_time stable while btime in the stat file moves', () => {
    const { reader, root } = fixture([{ pid: 5, name: 'daemon', startTicks: 3000 }]);
    const before = reader.read().snapshot.processes[0]!.start_time;
    // The kernel recomputes btime from the clock; a later read may differ by a second.
    writeFileSync(join(root, 'stat'), `cpu0 1 2 3 4 5 6 7 0 0 0\nbtime ${BTIME + 1}\n`);
    const after = reader.read().snapshot.processes[0]!.start_time;
    assert.equal(after, before);
  });
});
