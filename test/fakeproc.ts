/**
 * Builds procfs-shaped trees in a temporary folder, for parser and receiver tests of the cases a
 * real host produces but a test cannot summon on demand: odd names, zombies, kernel threads, pid reuse.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeProcess {
  pid: number;
  /** comm: a string, or raw bytes (for names that are not UTF-8). */
  name: string | Buffer;
  state?: string;
  ppid?: number;
  uid?: number;
  startTicks?: number;
  utimeTicks?: number;
  stimeTicks?: number;
  minorFaults?: number;
  majorFaults?: number;
  threads?: number;
  vsizeBytes?: number;
  rssPages?: number;
  /** argv; [] for kernel threads and zombies. A string is written as is (a retitled process). */
  cmdline?: string[] | string;
  /** Target of the exe link; null: no link (kernel thread, zombie). */
  exe?: string | null;
  /** read_bytes/write_bytes; null: no io file. */
  io?: { read: number; write: number } | null;
  /** Open descriptors: entries in fd/. */
  fds?: number;
  cgroup?: string | null;
  voluntary?: number;
  involuntary?: number;
  /** Leave out these files, as if the process exited between reads. */
  missing?: Array<'stat' | 'status' | 'io' | 'cmdline'>;
  /** Raw stat content instead of the generated one (malformed input). */
  rawStat?: Buffer | string;
}

export interface FakeHost {
  btime?: number;
  cpus?: number;
  memTotalKb?: number;
  processes: FakeProcess[];
}

export function statLine(p: FakeProcess): Buffer {
  const name = typeof p.name === 'string' ? Buffer.from(p.name) : p.name;
  // Fields 3..52 of proc(5); the ones the receiver reads get the fixture's values.
  const f: Array<string | number> = new Array(50).fill(0);
  const set = (field: number, v: string | number): void => {
    f[field - 3] = v;
  };
  set(3, p.state ?? 'S');
  set(4, p.ppid ?? 1);
  set(5, p.pid);
  set(6, p.pid);
  set(7, 0);
  set(8, -1);
  set(9, 4194560);
  set(10, p.minorFaults ?? 100);
  set(12, p.majorFaults ?? 1);
  set(14, p.utimeTicks ?? 10);
  set(15, p.stimeTicks ?? 5);
  set(18, 20);
  set(19, 0);
  set(20, p.threads ?? 1);
  set(22, p.startTicks ?? 100);
  set(23, p.vsizeBytes ?? 10_000_000);
  set(24, p.rssPages ?? 250);
  set(25, '18446744073709551615');
  return Buffer.concat([Buffer.from(`${p.pid} (`), name, Buffer.from(`) ${f.join(' ')}\n`)]);
}

function statusText(p: FakeProcess): string {
  const uid = p.uid ?? 0;
  const name = typeof p.name === 'string' ? p.name : p.name.toString('latin1');
  return [
    `Name:\t${name.replace(/\n/g, '\\n')}`,
    'Umask:\t0022',
    `State:\t${p.state ?? 'S'} (sleeping)`,
    `Tgid:\t${p.pid}`,
    `Pid:\t${p.pid}`,
    `PPid:\t${p.ppid ?? 1}`,
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    `Gid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    'VmRSS:\t    1000 kB',
    `Threads:\t${p.threads ?? 1}`,
    'Mems_allowed_list:\t0',
    `voluntary_ctxt_switches:\t${p.voluntary ?? 7}`,
    `nonvoluntary_ctxt_switches:\t${p.involuntary ?? 3}`,
    '',
  ].join('\n');
}

/** Writes (or rewrites) one process's directory. */
export function writeProcess(root: string, p: FakeProcess): void {
  const dir = join(root, String(p.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const missing = new Set(p.missing ?? []);
  if (!missing.has('stat')) writeFileSync(join(dir, 'stat'), p.rawStat ?? statLine(p));
  if (!missing.has('status')) writeFileSync(join(dir, 'status'), statusText(p));
  const argv = p.cmdline ?? [];
  if (!missing.has('cmdline')) {
    writeFileSync(join(dir, 'cmdline'), typeof argv === 'string' ? argv : argv.map((a) => a + '\0').join(''));
  }
  if (p.io !== null && !missing.has('io')) {
    const io = p.io ?? { read: 4096, write: 8192 };
    writeFileSync(
      join(dir, 'io'),
      `rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: ${io.read}\nwrite_bytes: ${io.write}\ncancelled_write_bytes: 99\n`,
    );
  }
  if (p.exe !== null) symlinkSync(p.exe ?? `/usr/bin/${typeof p.name === 'string' ? p.name : 'x'}`, join(dir, 'exe'));
  mkdirSync(join(dir, 'fd'));
  for (let i = 0; i < (p.fds ?? 3); i++) symlinkSync('/dev/null', join(dir, 'fd', String(i)));
  if (p.cgroup !== null) writeFileSync(join(dir, 'cgroup'), (p.cgroup ?? '0::/system.slice/test.service') + '\n');
}

/** Creates a procfs tree with the host files and processes; returns its root. */
export function buildProcfs(host: FakeHost): string {
  const root = mkdtempSync(join(tmpdir(), 'nrdot-fakeproc-'));
  chmodSync(root, 0o755); // readable by an unprivileged test user too
  writeHostFiles(root, host);
  for (const p of host.processes) writeProcess(root, p);
  return root;
}

export function writeHostFiles(root: string, host: FakeHost): void {
  const cpus = host.cpus ?? 4;
  const cpuLines = Array.from({ length: cpus }, (_, i) => `cpu${i} 1 2 3 4 5 6 7 0 0 0`);
  writeFileSync(
    join(root, 'stat'),
    ['cpu  4 8 12 16 20 24 28 0 0 0', ...cpuLines, 'intr 1', 'ctxt 99', `btime ${host.btime ?? 1_000_000}`, 'processes 500', ''].join('\n'),
  );
  writeFileSync(join(root, 'meminfo'), `MemTotal:       ${host.memTotalKb ?? 8_000_000} kB\nMemFree:        100 kB\n`);
}

export function removeProcess(root: string, pid: number): void {
  rmSync(join(root, String(pid)), { recursive: true, force: true });
}
