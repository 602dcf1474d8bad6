/**
 * The processes of the hub benchmark other than its load: the real hub (`bin/nrdot-plus-hub`) and a
 * PostgreSQL server in a temporary directory, and their CPU read from outside (/proc).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { hasSetpriv } from './agent-process.js';
import { isLive, killAndWait, scratchDir, sleep, track } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
export const REPO = resolve(HERE, '../..');
export const HUB_BIN = join(REPO, 'bin/nrdot-plus-hub');
export const CTL_BIN = join(REPO, 'bin/nrdot-plus-ctl');
export const PG_BIN = '/usr/lib/postgresql/15/bin';
const SETPRIV = '/usr/bin/setpriv';

// ---- CPU from /proc.

/** Fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime (clock ticks), and field 4 (ppid). */
function statFields(pid: number): { ticks: number; childTicks: number; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3
    return { ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]), ppid: Number(f[1]) };
  } catch {
    return null; // gone
  }
}

/** utime + stime of one process (all its threads), in clock ticks; NaN once it is gone. */
export function processTicks(pid: number): number {
  return statFields(pid)?.ticks ?? NaN;
}

/**
 * CPU of a process and its children, in clock ticks: its own, that of children it has reaped
 * (cutime + cstime), and that of its live children. The difference between two readings counts a
 * child that exited in between in full (PostgreSQL's postmaster reaps its backends).
 */
export function treeTicks(rootPid: number): number {
  const root = statFields(rootPid);
  if (!root) return NaN;
  let sum = root.ticks + root.childTicks;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statFields(Number(name));
    if (s && s.ppid === rootPid) sum += s.ticks;
  }
  return sum;
}

/** Busy and total clock ticks of the whole machine (/proc/stat), to tell other load apart. */
export function machineTicks(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3]! - cpu[4]!, total }; // idle, iowait
}

/** VmHWM and VmRSS in bytes. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** [cmd, args] that run argv with a parent-death SIGKILL when setpriv is there (a benchmark killed with -9 leaves nothing). */
function guarded(argv: string[]): [string, string[]] {
  return hasSetpriv() ? [SETPRIV, ['--pdeathsig', 'KILL', ...argv]] : [argv[0]!, argv.slice(1)];
}

/** Keeps the last few KB of a stream, for error messages. */
function tail(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-4000)));
  child.stdout?.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-4000)));
  return () => text;
}

// ---- PostgreSQL.

export interface Postgres {
  url: string;
  /** Runs a query on a connection of its own (statement statistics). */
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  /** The postmaster (its backends are its children). */
  pid: number;
  stop(): Promise<void>;
}

/** Why PostgreSQL cannot run here, or null. */
export function postgresUnavailable(): string | null {
  if (!existsSync(join(PG_BIN, 'postgres'))) return `${PG_BIN}/postgres is not installed (apt-get install postgresql-15)`;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root and there is no postgres user to run PostgreSQL as';
    }
  }
  return null;
}

/**
 * initdb + postgres in a temporary directory on 127.0.0.1 (as the postgres user when we are root),
 * trust authentication, Debian's defaults otherwise (fsync on, 128 MB shared buffers).
 */
export async function startPostgres(maxConnections = 200, statementStats = false): Promise<Postgres> {
  const why = postgresUnavailable();
  if (why) throw new Error(why);
  const dir = scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-pg-')));
  chmodSync(dir, 0o755);
  const pgdata = join(dir, 'data');
  mkdirSync(pgdata);
  let as: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    as = { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
    chownSync(pgdata, as.uid!, as.gid!);
  }
  execFileSync(join(PG_BIN, 'initdb'), ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...as, cwd: dir, stdio: 'ignore' });
  const port = await freePort();
  const [cmd, args] = guarded([join(PG_BIN, 'postgres'), '-D', pgdata, '-p', String(port), '-k', pgdata, '-c', 'listen_addresses=127.0.0.1', '-c', `max_connections=${maxConnections}`, ...(statementStats ? ['-c', 'shared_preload_libraries=pg_stat_statements'] : [])]);
  const child = track(spawn(cmd, args, { ...as, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }), 'postgres');
  const log = tail(child);
  for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
    try {
      execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { stdio: 'ignore' });
      break;
    } catch {
      if (Date.now() > deadline || !isLive(child.pid!)) throw new Error(`PostgreSQL did not start:\n${log()}`);
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    async query(sql: string) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows as Array<Record<string, unknown>>;
      } finally {
        await client.end();
      }
    },
    pid: child.pid!,
    async stop() {
      if (!isLive(child.pid!)) return;
      const exited = once(child, 'exit');
      child.kill('SIGINT'); // fast shutdown
      const timer = setTimeout(() => void killAndWait([child]), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- The hub.

export interface Hub {
  url: string;
  pid: number;
  token: string;
  running(): boolean;
  log(): string;
  stop(): Promise<void>;
}

export async function startHub(o: { database: string | null; heartbeatS: number; token: string; nodeFlags?: string[]; extraEnv?: Record<string, string> }): Promise<Hub> {
  if (!existsSync(HUB_BIN)) throw new Error(`${HUB_BIN} does not exist: the hub is not on this branch yet`);
  const dataDir = scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-hub-')));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(NRDOT_|OTEL_)/.test(k)) env[k] = v;
  Object.assign(env, {
    NRDOT_HUB_LISTEN: `127.0.0.1:${port}`,
    NRDOT_HUB_DATA_DIR: dataDir,
    NRDOT_HUB_TOKEN: o.token,
    NRDOT_HUB_HEARTBEAT_SECONDS: String(o.heartbeatS),
    ...(o.database ? { NRDOT_HUB_DATABASE: o.database } : {}),
    ...o.extraEnv,
  });
  const [cmd, args] = guarded([process.execPath, ...(o.nodeFlags ?? []), HUB_BIN]);
  const child = track(spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }), 'nrdot-plus-hub');
  const log = tail(child);
  const url = `http://127.0.0.1:${port}`;
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (!running()) throw new Error(`the hub exited (${child.exitCode ?? child.signalCode}) before answering /healthz:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`the hub did not answer /healthz within 60 s:\n${log()}`);
  }
  return {
    url,
    pid: child.pid!,
    token: o.token,
    running,
    log,
    async stop() {
      if (!running()) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => void killAndWait([child]), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `nrdot-plus-ctl ARGS` against the hub; resolves with its exit code and output. */
export async function ctl(hub: Hub, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NRDOT_HUB_URL: hub.url, NRDOT_HUB_TOKEN: hub.token };
  const child = track(spawn(process.execPath, [CTL_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }), 'nrdot-plus-ctl');
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
