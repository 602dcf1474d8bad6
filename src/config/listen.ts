/** The listener address of `server.listen` / NRDOT_HTTP_ADDR: `host:port`, `[v6]:port` or `unix:/path`. */

export const DEFAULT_LISTEN = '127.0.0.1:8887';

export type ListenAddress = { host: string; port: number } | { socket: string };

/** Splits the address; throws with the reason when it is none of the three forms. */
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

/** Whether a TCP host is loopback only (then the API also checks the Host header). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
