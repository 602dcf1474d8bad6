/**
 * `nrdot-plus-ctl`'s way to the running daemon: found through agent.json in the data directory
 * (NRDOT_DATA_DIR, the user's own, then the system one), spoken to over its local API, with the
 * token from the data directory for changes. No daemon is exit code 3, with how to start one.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { AGENT_FILE, agentAlive, readAgentInfo, TOKEN_FILE, type AgentInfo } from '../api/discovery.js';
import { parseListen } from '../config/listen.js';
import { dataDir, SYSTEM_DATA_DIR } from '../config/index.js';
import { EXIT, UserError } from '../command/errors.js';

const TIMEOUT_MS = 15_000;
const HOW_TO_START = 'start it with `nrdot-plus` (or `sudo systemctl start nrdot-plus` when installed as a service)';

export class DaemonClient {
  constructor(
    readonly info: AgentInfo,
    readonly dataDir: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path, undefined, false);
  }

  /** A change: sent with the token. */
  change<T>(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.call<T>(method, path, body, true);
  }

  /** GET of a text endpoint (/metrics). */
  text(path: string): Promise<string> {
    return this.raw('GET', path, undefined, {}).then((r) => r.body);
  }

  private async call<T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers.authorization = `Bearer ${this.token()}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const r = await this.raw(method, path, payload, headers);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      throw new UserError(`the daemon answered ${method} ${path} with HTTP ${r.status} and no JSON`);
    }
    if (r.status >= 400) {
      const message = (parsed as { error?: string }).error ?? `HTTP ${r.status}`;
      // 400: the value given (a profile name, a duration) is wrong, as a bad flag would be.
      throw new UserError(message, r.status === 400 ? EXIT.usage : EXIT.error);
    }
    return parsed as T;
  }

  private token(): string {
    const path = join(this.dataDir, TOKEN_FILE);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' ? 'permission denied; run as the agent\'s user or root (sudo nrdot-plus-ctl ...)' : (err as Error).message;
      throw new UserError(`cannot read the API token ${path}: ${why}`);
    }
  }

  /** A daemon registered and alive that does not answer in time: what to check. */
  private noAnswer(): string {
    const pid = this.info.pid;
    return [
      `the daemon (pid ${pid}, registered in ${join(this.dataDir, AGENT_FILE)}) did not answer at ${this.info.address} within ${TIMEOUT_MS / 1000} s.`,
      `Check that it is running and not stuck: \`ps -o pid,stat,etime,args -p ${pid}\` (or \`systemctl status nrdot-plus\`) and its log (\`nrdot-plus-ctl logs -n 20\`);`,
      `that nothing else took ${this.info.address};`,
      `and that NRDOT_DATA_DIR (now ${process.env.NRDOT_DATA_DIR ? `"${process.env.NRDOT_DATA_DIR}"` : 'unset'}) names the data directory of the agent you mean`,
    ].join(' ');
  }

  private raw(method: string, path: string, payload: string | undefined, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const where = parseListen(this.info.address);
    const target = 'socket' in where ? { socketPath: where.socket } : { host: where.host, port: where.port };
    return new Promise((resolve, reject) => {
      const req = request({ ...target, method, path, headers, timeout: TIMEOUT_MS }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new UserError(this.noAnswer())));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof UserError) {
          reject(err);
        } else if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
          reject(new UserError(`the daemon (pid ${this.info.pid}) does not answer at ${this.info.address}: ${HOW_TO_START}`, EXIT.noDaemon));
        } else {
          reject(new UserError(`the daemon at ${this.info.address}: ${err.message}`));
        }
      });
      req.end(payload);
    });
  }
}

/** The data directories where a daemon may be found, in order. */
export function daemonDirs(env = process.env): string[] {
  const dirs = [dataDir(env)];
  if (!env.NRDOT_DATA_DIR && !dirs.includes(SYSTEM_DATA_DIR)) dirs.push(SYSTEM_DATA_DIR);
  return dirs;
}

/** The running daemon, or null. */
export function findDaemon(env = process.env): DaemonClient | null {
  for (const dir of daemonDirs(env)) {
    const info = readAgentInfo(dir);
    if (info && agentAlive(info.pid)) return new DaemonClient(info, dir);
  }
  return null;
}

/** The running daemon, or a UserError with exit code 3 saying how to start one. */
export function connectDaemon(env = process.env): DaemonClient {
  const found = findDaemon(env);
  if (found) return found;
  const dirs = daemonDirs(env);
  throw new UserError(`no nrdot-plus daemon is running (none registered in ${dirs.join(' or ')}); ${HOW_TO_START}, or set NRDOT_DATA_DIR to its data directory`, EXIT.noDaemon);
}

/** Who asks, for the journal. */
export function operator(): string {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return `nrdot-plus-ctl (${name})`;
}
