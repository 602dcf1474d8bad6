/**
 * `nrdot-plus-ctl fleet ...`'s way to the hub: NRDOT_HUB_URL (default http://127.0.0.1:4320) with
 * the token in NRDOT_HUB_TOKEN. No hub answering is exit code 3 with how to start one; a refused
 * token names NRDOT_HUB_TOKEN; any other refusal is the hub's own message.
 */
import { EXIT, UsageError, UserError } from '../command/errors.js';

export const DEFAULT_HUB_URL = 'http://127.0.0.1:4320';
const TIMEOUT_MS = 30_000;
const HOW_TO_START = 'start one with `nrdot-plus-hub` (or `npm run hub` in a checkout), or set NRDOT_HUB_URL to where it runs';
/** Errors that mean nothing answers at the address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EADDRNOTAVAIL']);

type Query = Record<string, string | number | boolean | undefined>;

export class HubClient {
  constructor(
    readonly url: string,
    private readonly token: string | null,
  ) {}

  static fromEnv(env = process.env): HubClient {
    const raw = env.NRDOT_HUB_URL?.trim() || DEFAULT_HUB_URL;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`NRDOT_HUB_URL: "${raw}" is not a URL (for example ${DEFAULT_HUB_URL})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`NRDOT_HUB_URL: "${raw}" must be an http:// or https:// URL`);
    const token = env.NRDOT_HUB_TOKEN?.trim() || null;
    // A token pasted with a line break or a space in it would fail as an HTTP header: say which variable.
    if (token !== null && !/^[\x21-\x7e]+$/.test(token)) throw new UsageError('NRDOT_HUB_TOKEN: holds spaces, line breaks or other characters a token never has (paste only the token)');
    return new HubClient(url.toString().replace(/\/+$/, ''), token);
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.call<T>('GET', path, query, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, undefined, body);
  }

  delete<T>(path: string, query?: Query): Promise<T> {
    return this.call<T>('DELETE', path, query, undefined);
  }

  private async call<T>(method: string, path: string, query: Query | undefined, body: unknown): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const target = `${this.url}/api/v1${path}${qs.toString() ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') throw new UserError(`the hub at ${this.url} did not answer ${method} ${path} within ${TIMEOUT_MS / 1000} s`);
      const code = e.cause?.code;
      if (code && UNREACHABLE.has(code)) throw new UserError(`no hub answers at ${this.url} (${code}); ${HOW_TO_START}`, EXIT.noDaemon);
      throw new UserError(`the hub at ${this.url}: ${e.cause?.message ?? e.message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UserError(`the hub at ${this.url} answered ${method} ${path} with HTTP ${res.status} and no JSON (is NRDOT_HUB_URL a hub?)`);
    }
    if (res.status >= 400) {
      const message = (parsed as { error?: string }).error ?? `HTTP ${res.status}`;
      if (res.status === 401) {
        throw new UserError(
          `the hub at ${this.url} refused: ${this.token ? 'NRDOT_HUB_TOKEN is not one of its tokens' : 'NRDOT_HUB_TOKEN is not set'}; set it to the admin token the hub printed at its first start (or to the hub's own NRDOT_HUB_TOKEN)`,
        );
      }
      if (res.status === 403) throw new UserError(`the hub at ${this.url} refused: NRDOT_HUB_TOKEN holds the read token, and changes need the admin token`);
      throw new UserError(message);
    }
    return parsed as T;
  }
}
