/**
 * The agent's local HTTP listener: loopback by default (or a Unix socket, `unix:/path`). It serves
 * `/metrics` for Prometheus and the local API under `/api/v1`, described at `/api/v1/openapi.json`.
 * Endpoints that change state require the bearer token the daemon keeps in its data directory.
 */
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { isLoopback, parseListen } from '../config/listen.js';
import { ApiError } from './errors.js';
import { openApi, type Route } from './routes.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** Request bodies are small JSON objects. */
const MAX_BODY_BYTES = 64 * 1024;

export interface Listener {
  /** The address actually bound, `host:port` (the port is known even when 0 was asked for) or `unix:/path`. */
  address: string;
  close(): Promise<void>;
}

export interface ListenerOptions {
  /** The Prometheus exposition of the latest interval. */
  metrics: () => string;
  routes?: readonly Route[];
  /** The bearer token mutations need (routes with `auth`). */
  token?: string;
  /** Scrubs every JSON answer of secrets (the agent's Redactor) before it is sent. */
  redact?: (text: string) => string;
}

/** Listens on `listen` and serves /metrics and the API routes. */
export async function startListener(listen: string, options: ListenerOptions): Promise<Listener> {
  const address = parseListen(listen);
  const routes = options.routes ?? [];
  const matchers = routes.map((r) => ({ route: r, re: new RegExp(`^${r.path.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`) }));
  const description = openApi(routes);
  const redact = options.redact ?? ((text: string): string => text);
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(redact(JSON.stringify(body)) + '\n');
  };
  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((err: Error) => {
      const status = err instanceof ApiError ? err.status : 500;
      if (!res.headersSent) json(res, status, { error: err.message });
      else res.end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The raw path, not a URL's: dot segments in a process name must not walk to another endpoint.
    const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2);
    const path = rawPath.replace(/\/+$/, '') || '/';
    const query = new URLSearchParams(rawQuery);
    const method = req.method ?? 'GET';
    // On loopback, a Host that is not loopback is a browser led here by DNS rebinding.
    if (loopback && !loopbackHost(req.headers.host)) return void json(res, 403, { error: `Host ${req.headers.host ?? '(none)'} is not this loopback listener` });
    if (path === '/metrics' || path === '/') {
      if (method !== 'GET' && method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ error: `${method} ${path}: only GET` }) + '\n');
      if (path === '/') {
        return void res
          .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
          .end('nrdot-plus agent: /metrics (Prometheus text format), /api/v1 (local API, described at /api/v1/openapi.json)\n');
      }
      return void res.writeHead(200, { 'content-type': PROMETHEUS_TEXT }).end(method === 'HEAD' ? undefined : options.metrics());
    }
    if (path === '/api/v1/openapi.json' || path === '/api/v1') {
      if (method !== 'GET') return void json(res, 405, { error: `${method} ${path}: only GET` });
      return void json(res, 200, description);
    }
    const candidates = matchers.map((m) => ({ ...m, match: m.re.exec(path) })).filter((m) => m.match);
    if (candidates.length === 0) return void json(res, 404, { error: `no endpoint ${path}; see /api/v1/openapi.json` });
    const found = candidates.find((m) => m.route.method === method);
    if (!found) {
      const allow = candidates.map((m) => m.route.method).join(', ');
      return void res.writeHead(405, { allow, 'content-type': 'application/json' }).end(JSON.stringify({ error: `${method} ${path}: allowed ${allow}` }) + '\n');
    }
    if (found.route.auth && !authorized(req.headers.authorization, options.token)) {
      const status = req.headers.authorization ? 403 : 401;
      res.setHeader('www-authenticate', 'Bearer realm="nrdot-plus"');
      return void json(res, status, {
        error: status === 401 ? 'this endpoint changes state: send Authorization: Bearer <token from the data directory\'s api-token>' : 'wrong token',
      });
    }
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readJson(req);
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(Object.entries(found.match!.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
    } catch {
      throw new ApiError(400, `${path}: malformed percent-encoding`);
    }
    const answer = await found.route.handler({ params, query, body });
    json(res, answer.status ?? 200, answer.body);
  }

  const loopback = 'host' in address && isLoopback(address.host);
  if ('socket' in address) await clearStaleSocket(address.socket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('socket' in address) server.listen(address.socket, listening);
    else server.listen(address.port, address.host, listening);
  });
  let bound: string;
  if ('socket' in address) {
    chmodSync(address.socket, 0o660);
    bound = `unix:${address.socket}`;
  } else {
    const a = server.address() as AddressInfo;
    bound = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }
  return {
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function authorized(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}

function loopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = /^\[([^\]]+)\](?::\d+)?$/.exec(host)?.[1] ?? host.replace(/:\d+$/, '');
  return isLoopback(name);
}

/**
 * A socket file left by a killed agent is removed; anything else at the path (a file, a socket a
 * live process answers on) is refused, never deleted.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new Error(`${path} is in use by another process`);
  rmSync(path, { force: true });
}
