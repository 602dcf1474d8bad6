/**
 * The agent's local HTTP listener: loopback by default (or a Unix socket, `unix:/path`). It serves
 * `/metrics` for Prometheus and the local API under `/api/v1`, described at `/api/v1/openapi.json`.
 * Endpoints that change state require the bearer token the daemon keeps in its data directory.
 */
import { timingSafeEqual } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from './errors.js';
import { openApi, type Route } from './routes.js';

export const DEFAULT_LISTEN = '127.0.0.1:8887';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** Request bodies are small JSON objects. */
const MAX_BODY_BYTES = 64 * 1024;

export interface Listener {
  /** The address actually bound, `host:port` (the port is known even when 0 was asked for) or `unix:/path`. */
  address: string;
  close(): Promise<void>;
}

export type ListenAddress = { host: string; port: number } | { socket: string };

/** Splits `host:port`, `[v6]:port` or `unix:/path`; throws with the reason when it is none. */
export function parseListen(value: string): ListenAddress {
  const v = value.trim();
  if (v.startsWith('unix:')) {
    const socket = v.slice(5);
    if (!socket.startsWith('/')) throw new Error(`"${value}": a Unix socket needs an absolute path (unix:/run/nrdot-plus/api.sock)`);
    return { socket };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`"${value}" is not host:port (for example ${DEFAULT_LISTEN}) or unix:/path`);
  return { host: (m[1] ?? m[2])!, port };
}

export interface ListenerOptions {
  /** The Prometheus exposition of the latest interval. */
  metrics: () => string;
  routes?: readonly Route[];
  /** The bearer token mutations need (routes with `auth`). */
  token?: string;
}

/** Listens on `listen` and serves /metrics and the API routes. */
export async function startListener(listen: string, options: ListenerOptions): Promise<Listener> {
  const address = parseListen(listen);
  const routes = options.routes ?? [];
  const matchers = routes.map((r) => ({ route: r, re: new RegExp(`^${r.path.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`) }));
  const description = openApi(routes);
  const server: Server = createServer((req, res) => {
    void serve(req, res).catch((err: Error) => {
      const status = err instanceof ApiError ? err.status : 500;
      if (!res.headersSent) json(res, status, { error: err.message });
      else res.end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/metrics' || path === '/') {
      if (method !== 'GET' && method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
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
    const params = Object.fromEntries(Object.entries(found.match!.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
    const answer = await found.route.handler({ params, query: url.searchParams, body });
    json(res, answer.status ?? 200, answer.body);
  }

  if ('socket' in address) rmSync(address.socket, { force: true }); // a stale socket from a killed agent
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

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body) + '\n');
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
