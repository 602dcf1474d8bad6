/**
 * The agent's local HTTP listener (loopback by default). Today it serves `/metrics` for Prometheus;
 * the local API of the daemon joins it later.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEFAULT_LISTEN = '127.0.0.1:8887';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export interface Listener {
  /** The address actually bound, `host:port` (the port is known even when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

/** Splits `host:port` or `[v6]:port`; throws with the reason when it is not one. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`"${value}" is not host:port (for example ${DEFAULT_LISTEN})`);
  return { host: (m[1] ?? m[2])!, port };
}

/** Listens on `listen` and serves `metrics()` at /metrics. */
export async function startListener(listen: string, metrics: () => string): Promise<Listener> {
  const { host, port } = parseListen(listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_TEXT }).end(req.method === 'HEAD' ? undefined : metrics());
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('nrdot-plus agent: /metrics (Prometheus text format)\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
