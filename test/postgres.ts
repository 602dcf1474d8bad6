/**
 * A real PostgreSQL 15 (Debian's packages) for a test: initdb in a fresh temporary folder, the
 * server on a free loopback port, run as the `postgres` user when the tests run as root (the
 * server refuses root). Settings are for speed, not durability (fsync off): a test database is
 * thrown away. Everything is stopped by pid and the folder removed when the test ends, or when
 * the test process exits without stopping it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './run.js';

/** Debian's PostgreSQL 15 (what .ci/run installs), else the newest major installed. */
export const PG_BIN = findPgBin();

function findPgBin(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(join(root, '15/bin/postgres'))) return join(root, '15/bin');
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin/postgres'))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  return join(root, newest ?? '15', 'bin');
}

/** Why PostgreSQL cannot run here, or undefined when it can. Tests fail with this, never skip. */
export function postgresUnavailable(): string | undefined {
  for (const bin of ['initdb', 'postgres']) {
    if (!existsSync(join(PG_BIN, bin))) return `${join(PG_BIN, bin)} is missing: install PostgreSQL 15 (apt-get install postgresql)`;
  }
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root but there is no postgres user to run the server as (apt-get install postgresql creates it)';
    }
  }
  return undefined;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication on loopback). */
  url: string;
  port: number;
  /** A new empty database on this server; its URL. */
  createDatabase(): Promise<string>;
  /** Fast shutdown (clients disconnected), then the folder is removed. */
  stop(): Promise<void>;
  /** SIGKILL the server at once (a crash), and remove the folder. */
  kill(): void;
}

export interface PostgresOptions {
  maxConnections?: number;
  /** fsync and synchronous commit off (default true): for tests that throw the data away. */
  fast?: boolean;
}

async function waitReady(url: string, postmaster: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (postmaster.exitCode !== null || postmaster.signalCode !== null) throw new Error(`PostgreSQL exited while starting (${postmaster.exitCode ?? postmaster.signalCode})`);
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 30 s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const why = postgresUnavailable();
  if (why) throw new Error(why);
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-pg-'));
  chmodSync(dir, 0o755);
  const pgdata = join(dir, 'data');
  mkdirSync(pgdata, { mode: 0o700 });
  let ids: { uid: number; gid: number } | Record<string, never> = {};
  if (process.getuid?.() === 0) {
    ids = {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    };
    chownSync(pgdata, ids.uid, ids.gid);
  }
  let postmaster: ChildProcess | null = null;
  const exited = () => postmaster === null || postmaster.exitCode !== null || postmaster.signalCode !== null;
  const kill = (): void => {
    if (!exited()) postmaster?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', kill);
  try {
    let stderr = '';
    try {
      execFileSync(join(PG_BIN, 'initdb'), ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
        ...ids,
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      throw new Error(`initdb failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
    }
    const port = await freePort();
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: pgdata,
      max_connections: String(options.maxConnections ?? 100),
    };
    if (options.fast !== false) Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '32MB' });
    const args = ['-D', pgdata, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    postmaster = spawn(join(PG_BIN, 'postgres'), args, { ...ids, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    postmaster.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitReady(url, postmaster);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${stderr}`);
    }
    let n = 0;
    return {
      url,
      port,
      async createDatabase() {
        const name = `t${++n}`;
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name}`);
        } finally {
          await c.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.removeListener('exit', kill);
        const p = postmaster;
        if (p && !exited()) {
          const done = once(p, 'exit');
          p.kill('SIGINT'); // fast shutdown: does not wait for clients to leave
          await Promise.race([done, new Promise((r) => setTimeout(r, 10_000).unref())]);
        }
        kill();
      },
      kill() {
        process.removeListener('exit', kill);
        kill();
      },
    };
  } catch (err) {
    process.removeListener('exit', kill);
    kill();
    throw err;
  }
}
