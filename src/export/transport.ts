/**
 * How the OTLP sender posts a request. Direct: Node's own http/https client (keep-alive, the TLS
 * files of the settings). Through a proxy (HTTPS_PROXY / HTTP_PROXY set, NO_PROXY honoured):
 * undici's EnvHttpProxyAgent, loaded only then, since it is a fifth of the agent's resident memory.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TlsFiles } from './otlp-settings.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Transport {
  /** Whether requests go through a proxy (for the start line). */
  readonly proxied: boolean;
  post(url: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/** An answer's body is read up to this (an OTLP response or an error text; the rest is dropped). */
const MAX_ANSWER_BYTES = 1 << 20;

type Env = Record<string, string | undefined>;

/** HTTP_PROXY and friends in either case; an empty one counts as unset. */
function proxyEnv(env: Env, name: string): string | undefined {
  return env[name.toLowerCase()] || env[name] || undefined;
}

export async function openTransport(tls: TlsFiles, env: Env = process.env): Promise<Transport> {
  const httpProxy = proxyEnv(env, 'HTTP_PROXY');
  const httpsProxy = proxyEnv(env, 'HTTPS_PROXY');
  if (httpProxy || httpsProxy) {
    const { EnvHttpProxyAgent, request } = await import('undici');
    // The TLS options apply to the backend, directly or through the proxy's tunnel.
    const dispatcher = new EnvHttpProxyAgent({ httpProxy, httpsProxy, noProxy: proxyEnv(env, 'NO_PROXY') ?? '', connect: tls, requestTls: tls });
    return {
      proxied: true,
      async post(url, headers, body, signal) {
        const res = await request(url, { method: 'POST', headers, body, dispatcher, signal });
        let answer = Buffer.alloc(0);
        try {
          answer = Buffer.from(await res.body.arrayBuffer());
        } catch {
          // The status is the answer; a body lost after it changes nothing.
        }
        return { status: res.statusCode, headers: res.headers, body: answer.subarray(0, MAX_ANSWER_BYTES) };
      },
      close: () => dispatcher.destroy(),
    };
  }
  return directTransport(tls);
}

/** Node's own http/https client, one keep-alive connection per scheme (also the webhook sender's). */
export function directTransport(tls: TlsFiles = {}): Transport {
  const http = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: tls.ca, cert: tls.cert, key: tls.key });
  return {
    proxied: false,
    post(url, headers, body, signal) {
      return new Promise((resolve, reject) => {
        const secure = url.startsWith('https:');
        const send = secure ? httpsRequest : httpRequest;
        const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: secure ? https : http, signal }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          // The status is the answer; a body cut short after it changes nothing.
          const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES) });
          res.on('end', done);
          res.on('error', done);
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close: async () => {
      http.destroy();
      https.destroy();
    },
  };
}
