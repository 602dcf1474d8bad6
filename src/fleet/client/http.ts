/**
 * The OpAMP client's HTTP exchange: one POST of an AgentToServer, the ServerToAgent back. Bounded in
 * time (the whole exchange) and in the bytes read from the server: a slow or hostile hub costs the
 * agent at most that much, never its collection or export.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { TlsOptions } from './types.js';

export interface Exchange {
  status: number;
  /** Retry-After of a 429 or 503, in ms (null when absent or unreadable). */
  retryAfterMs: number | null;
  body: Buffer;
}

export class ExchangeError extends Error {}

/** Bodies larger than this are sent gzipped (a full state with the effective configuration, ~15 KB). */
const GZIP_ABOVE_BYTES = 1024;

export class HttpPoster {
  private readonly agent: HttpAgent;

  constructor(
    private readonly url: URL,
    tls: TlsOptions,
  ) {
    // One keep-alive connection: one request at a time, the next poll reuses it.
    this.agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...tls }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  post(headers: Record<string, string>, body: Uint8Array, timeoutMs: number, maxBytes: number, signal?: AbortSignal): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const gzip = body.length > GZIP_ABOVE_BYTES;
      const sent = gzip ? gzipSync(body) : body;
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          ...headers,
          'content-type': 'application/x-protobuf',
          'content-length': String(sent.length),
          'accept-encoding': 'gzip',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        signal,
      });
      const timer = setTimeout(() => req.destroy(new ExchangeError(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(err instanceof ExchangeError ? err : new ExchangeError(describeNetError(err)));
      };
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new ExchangeError(`answer larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          let answer = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') {
            try {
              // The bound holds after decompression too (a small gzip body can expand a thousandfold).
              answer = gunzipSync(answer, { maxOutputLength: maxBytes });
            } catch (err) {
              reject(new ExchangeError(`answer not gunzipped: ${(err as Error).message}`));
              return;
            }
          }
          resolve({ status, retryAfterMs: status === 429 || status === 503 ? retryAfter(res.headers['retry-after']) : null, body: answer });
        });
      });
      req.end(sent);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Retry-After as delay-seconds or an HTTP date, in ms. */
export function retryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

/** A network error in a few words (ECONNREFUSED: "connection refused"), without a stack. */
export function describeNetError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ABORT_ERR':
      return 'cancelled';
    default:
      return code ? `${err.message} (${code})` : err.message;
  }
}
