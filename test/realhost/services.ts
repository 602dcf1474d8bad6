/**
 * Real services from Debian's packages, started for a test on loopback in a temporary folder:
 * PostgreSQL with pgbench holding client connections, nginx with its workers, redis. Everything is
 * stopped by pid when the test ends.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresUnavailable, startPostgres, type PostgresServer } from '../postgres.js';
import { freePort } from '../run.js';

const NGINX = '/usr/sbin/nginx';
const REDIS = '/usr/bin/redis-server';
const PGBENCH = '/usr/bin/pgbench';

/** Why these services cannot run here, or undefined when they can. */
export function servicesUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run PostgreSQL as its own user';
  for (const bin of [NGINX, REDIS, PGBENCH]) {
    if (!existsSync(bin)) return `${bin} is not installed (apt-get install postgresql nginx-light redis-server)`;
  }
  return postgresUnavailable();
}

export interface RunningServices {
  pgbench: ChildProcess;
  stop(): Promise<void>;
}

/** Starts PostgreSQL (with `clients` pgbench connections for `seconds`), nginx and redis. */
export async function startServices(clients: number, seconds: number): Promise<RunningServices> {
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-realhost-'));
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  let postgres: PostgresServer | undefined;
  const stopAll = async (): Promise<void> => {
    for (const c of children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Durable settings (fsync on), as a production server the agent watches would run.
    postgres = await startPostgres({ maxConnections: clients + 20, fast: false });
    const pg = ['-h', '127.0.0.1', '-p', String(postgres.port), '-U', 'postgres'];
    execFileSync(PGBENCH, ['-i', '-s', '2', ...pg, 'postgres'], { stdio: 'ignore' });
    // Connections held open, mostly idle between transactions, as an application's pool would.
    const pgbench = spawn(PGBENCH, ['-c', String(clients), '-j', '2', '-T', String(seconds), '-R', String(Math.max(1, Math.round(clients / 2))), ...pg, 'postgres'], { stdio: 'ignore' });
    children.push(pgbench);
    const nginxPort = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 4;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx.err;\ndaemon off;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n  server { listen 127.0.0.1:${nginxPort}; return 204; }\n}\n`,
    );
    children.push(spawn(NGINX, ['-c', conf, '-p', dir], { stdio: 'ignore' }));
    const redisPort = await freePort();
    children.push(spawn(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
    return { pgbench, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
