/**
 * Generic webhook alerts (SPEC, "Surfaces"): for each event with a `webhooks.<event>.url`, a JSON
 * POST `{ id, event, host, time, details }`, signed with HMAC-SHA256 (`X-NRDOT-Signature:
 * sha256=<hex>`, GitHub's form) when the webhook has a secret.
 *
 * An alert is written to the state store's outbox before any attempt, so that one raised during an
 * outage or just before a crash is delivered after the restart. Every attempt sends the same bytes
 * (the stored body) with the same `id` (`X-NRDOT-Delivery`), so that a receiver can drop the
 * duplicate a lost answer causes.
 *
 * - 2xx: delivered.
 * - A connection error, a timeout, a redirect (not followed), 408, 429 or 5xx: retried with
 *   exponential backoff and jitter (5 s doubling up to 10 min by default), not before `Retry-After`
 *   on 429 and 503, for 24 h; then given up (kept in the outbox as failed until pruned).
 * - Any other status (400, 401, 403, 404, ...): given up at once: a receiver that refuses is a
 *   configuration error, not an outage.
 *
 * Each failure is logged once per alert and kind. Logs name the event and the URL's origin only, never
 * its path and query (Slack-style URLs are credentials) nor the secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../agent/log.js';
import { MAX_TIMER_MS, type Config } from '../config/schema.js';
import type { Redactor } from '../config/secrets.js';
import { retryAfterMs } from '../export/otlp-http.js';
import { directTransport } from '../export/transport.js';
import type { StateStore } from '../store/store.js';
import type { AlertRow } from '../store/types.js';
import { VERSION } from '../version.js';
import { ALERT_EVENTS, isAlertEvent, type AlertEvent } from './events.js';

export { ALERT_EVENTS, type AlertEvent };

/** The JSON body: { id, event, host, time (ISO 8601 UTC), details } */
export interface WebhookBody {
  id: string;
  event: AlertEvent;
  host: string;
  time: string;
  details: Record<string, unknown>;
}

export interface RetrySettings {
  /** First wait after a failed attempt, doubled at each further failure (+-50% jitter). */
  initialSeconds: number;
  /** Longest wait between two attempts. */
  maxSeconds: number;
  /** An alert still undelivered this long after it was raised is given up. */
  giveUpAfterSeconds: number;
}

export interface WebhookOptions {
  store: StateStore;
  webhooks: Config['webhooks'];
  /** The host identity the bodies carry (and their ids are made of). */
  host: string;
  log: Logger;
  /** Scrubs what a receiver or the network says before it is logged or stored (the agent's, which knows the webhooks' URLs and secrets). */
  redactor: Redactor;
  /** Unix seconds; Date.now() by default. */
  now?: () => number;
  retry?: RetrySettings;
  /** Per request, answer included (default 10 s). */
  timeoutMs?: number;
  /** The backoff's jitter, in [0, 1) (Math.random by default). */
  random?: () => number;
}

export const DEFAULT_RETRY: RetrySettings = { initialSeconds: 5, maxSeconds: 600, giveUpAfterSeconds: 86_400 };
export const DEFAULT_TIMEOUT_MS = 10_000;

/** next_attempt of an alert given up on: never due again (it stays in the outbox, failed, until pruned). */
const GIVEN_UP = Number.MAX_SAFE_INTEGER;
/** Alerts read from the outbox at a time. */
const BATCH = 100;
/** An answer's body is read up to this (an excerpt of it goes into the log). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** "sha256=" + lowercase hex HMAC-SHA256 of the body, keyed with the secret (GitHub-style). */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether an X-NRDOT-Signature header is the body's signature with this secret (compared in constant time). */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined || !/^sha256=[0-9a-fA-F]{64}$/.test(header.trim())) return false;
  const expected = Buffer.from(signBody(secret, body), 'latin1');
  const given = Buffer.from(header.trim().toLowerCase(), 'latin1');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The body as stored in the outbox: all but the id, which comes from the outbox id. */
type StoredBody = Omit<WebhookBody, 'id'>;

type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; type: string; message: string; afterSeconds: number | null }
  | { kind: 'permanent'; type: string; message: string };

export class WebhookSender {
  readonly stats = { delivered: 0, failed: 0, pending: 0 };
  private webhooks: Config['webhooks'];
  private readonly store: StateStore;
  private readonly host: string;
  private readonly log: Logger;
  private readonly redactor: Redactor;
  private readonly now: () => number;
  private readonly retry: RetrySettings;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly transport = directTransport();
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  /** Passes run one after the other, so an alert is never attempted twice at once. */
  private chain: Promise<void> = Promise.resolve();
  /** The pass waiting its turn, which a wake-up or drain() joins rather than queueing another. */
  private queued: Promise<void> | null = null;
  /** After a change of webhooks: the next pass tries every pending alert, due or not. */
  private everythingDue = false;
  /** The failure kinds already logged, per alert. */
  private readonly logged = new Map<number, Set<string>>();
  /** Events whose webhook was logged as unsigned. */
  private readonly unsigned = new Set<string>();
  private storeFailure = '';

  constructor(opts: WebhookOptions) {
    this.store = opts.store;
    this.webhooks = opts.webhooks;
    this.host = opts.host;
    this.log = opts.log;
    this.redactor = opts.redactor;
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.random = opts.random ?? Math.random;
    this.stats.pending = this.store.pendingAlerts(GIVEN_UP - 1, 10_000).length;
  }

  /**
   * Stores the event in the outbox when a webhook is configured for it (non-empty url) and wakes the
   * sender; returns the outbox id, or null when no webhook is configured for that event. `time` is
   * unix seconds (may be a recording's time); now by default.
   */
  raise(event: AlertEvent, details: Record<string, unknown>, time: number = this.now()): number | null {
    if (!this.webhooks[event]?.url) return null;
    if (!Number.isFinite(time)) throw new RangeError(`webhook ${event}: the time must be unix seconds (got ${time})`);
    const body: StoredBody = { event, host: this.host, time: new Date(time * 1000).toISOString(), details };
    const id = this.store.enqueueAlert(event, body, this.now());
    this.stats.pending++;
    if (this.running) void this.schedulePass();
    return id;
  }

  /** A configuration reload: alerts still pending go to the new URLs, at once, or are given up if their webhook is gone. */
  setWebhooks(webhooks: Config['webhooks']): void {
    if (JSON.stringify(webhooks) === JSON.stringify(this.webhooks)) return;
    this.webhooks = webhooks;
    if (!this.running) return;
    this.noteUnsigned();
    this.everythingDue = true;
    void this.schedulePass();
  }

  /** Delivers the alerts due now, then whenever one is raised or a retry comes due (timers unref'd). */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.noteUnsigned();
    void this.schedulePass();
  }

  /** One pass: attempts every alert due now; resolves when those attempts are done (for --once, tests, stop). */
  drain(): Promise<void> {
    return this.schedulePass();
  }

  /** Stops the timers and waits for an attempt in flight (bounded by the timeout); the outbox keeps the rest. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
    await this.transport.close();
  }

  private schedulePass(): Promise<void> {
    if (this.queued) return this.queued;
    const pass = this.chain.then(async () => {
      this.queued = null;
      try {
        await this.pass();
        this.arm();
        this.storeFailure = '';
      } catch (err) {
        // The store failing (closed, disk full): said once; the alerts stay where they are.
        const message = (err as Error).message;
        if (message !== this.storeFailure) this.log.error({ err }, `webhooks: the alert outbox cannot be read or written: ${message}`);
        this.storeFailure = message;
      }
    });
    this.queued = pass;
    this.chain = pass;
    return pass;
  }

  /** Attempts every alert due at the pass's start, each at most once. */
  private async pass(): Promise<void> {
    const horizon = this.everythingDue ? GIVEN_UP - 1 : this.now();
    this.everythingDue = false;
    const tried = new Set<number>();
    while (!this.stopped) {
      const rows = this.store.pendingAlerts(horizon, tried.size + BATCH).filter((r) => !tried.has(r.id));
      if (rows.length === 0) return;
      for (const row of rows) {
        if (this.stopped) return;
        tried.add(row.id);
        await this.attempt(row);
      }
    }
  }

  /** Sets the timer for the next retry due, if any. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running || this.queued) return;
    const next = this.store.pendingAlerts(GIVEN_UP - 1, 1)[0];
    if (!next) return;
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((next.nextAttempt - this.now()) * 1000)));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.schedulePass();
    }, ms);
    this.timer.unref();
  }

  private async attempt(row: AlertRow): Promise<void> {
    const event = row.event;
    const hook = isAlertEvent(event) ? this.webhooks[event] : undefined;
    if (!hook?.url) {
      this.giveUp(row, 'no webhook is configured for this event', 'warn', `webhook ${event}: alert ${row.id} dropped: no webhook is configured for ${event} any more`);
      return;
    }
    let url: URL;
    try {
      url = new URL(hook.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('not http(s)');
    } catch {
      this.giveUp(row, 'the url is not an http(s) URL', 'error', `webhook ${event}: alert ${row.id} dropped: webhooks.${event}.url is not an http(s) URL`);
      return;
    }
    const body = bodyOf(row);
    if (!body) {
      this.giveUp(row, 'the stored alert is not a webhook body', 'error', `webhook ${event}: alert ${row.id} dropped: the outbox holds something else than a webhook body for it`);
      return;
    }
    const bytes = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': `nrdot-plus/${VERSION}`,
      'X-NRDOT-Event': body.event,
      'X-NRDOT-Delivery': body.id,
    };
    if (hook.secret) headers['X-NRDOT-Signature'] = signBody(hook.secret, bytes);
    const outcome = await this.post(url, headers, bytes);
    const time = this.now();
    const fields = { webhook_event: event, webhook_origin: url.origin, alert_id: row.id, attempts: row.attempts + 1 };

    if (outcome.kind === 'delivered') {
      if (this.store.markAlertDelivered(row.id, time)) this.settled();
      this.stats.delivered++;
      this.logged.delete(row.id);
      const message = `webhook ${event}: alert ${row.id} delivered to ${url.origin}`;
      if (row.attempts > 0) this.log.info(fields, `${message} after ${row.attempts + 1} attempts`);
      else this.log.debug(fields, message);
      return;
    }
    if (outcome.kind === 'permanent') {
      this.giveUp(row, outcome.message, 'error', `webhook ${event}: ${url.origin} refused alert ${row.id} with ${outcome.message}; not retried (check webhooks.${event}.url and its secret)`, url.origin);
      return;
    }
    const waited = time - row.created;
    if (waited >= this.retry.giveUpAfterSeconds) {
      this.giveUp(row, outcome.message, 'error', `webhook ${event}: alert ${row.id} given up after ${row.attempts + 1} attempts in ${describeSeconds(waited)}; the last: ${outcome.message}`, url.origin);
      return;
    }
    const delay = outcome.afterSeconds !== null ? Math.max(outcome.afterSeconds, this.retry.initialSeconds) : this.backoffSeconds(row.attempts);
    const next = Math.min(time + delay, row.created + this.retry.giveUpAfterSeconds);
    this.store.markAlertFailed(row.id, time, outcome.message, next);
    const kinds = this.logged.get(row.id) ?? new Set<string>();
    this.logged.set(row.id, kinds);
    if (kinds.has(outcome.type)) return;
    kinds.add(outcome.type);
    this.log.warn({ ...fields, error_type: outcome.type }, `webhook ${event}: alert ${row.id} not delivered to ${url.origin}: ${outcome.message}; retrying with backoff`);
  }

  /** Marks an alert failed for good (it stays in the outbox until pruned) and says why. */
  private giveUp(row: AlertRow, error: string, level: 'warn' | 'error', message: string, origin?: string): void {
    if (this.store.markAlertFailed(row.id, this.now(), error, GIVEN_UP)) this.settled();
    this.stats.failed++;
    this.logged.delete(row.id);
    this.log[level]({ webhook_event: row.event, ...(origin ? { webhook_origin: origin } : {}), alert_id: row.id, attempts: row.attempts + 1 }, message);
  }

  private settled(): void {
    this.stats.pending = Math.max(0, this.stats.pending - 1);
  }

  /** From retry.initialSeconds, doubling per failed attempt, +-50% jitter, at most retry.maxSeconds. */
  private backoffSeconds(failedBefore: number): number {
    const { initialSeconds, maxSeconds } = this.retry;
    const base = Math.min(maxSeconds, initialSeconds * 2 ** failedBefore);
    return Math.min(maxSeconds, base * (0.5 + this.random()));
  }

  /** One request; what the receiver or the network says comes back scrubbed of secrets. */
  private async post(url: URL, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
    const scrub = (text: string): string => this.redactor.scrub(text);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const answer = await this.transport.post(url.href, headers, body, timeout);
      return classify(answer.status, answer.headers as IncomingHttpHeaders, answer.body.subarray(0, MAX_ANSWER_BYTES), scrub);
    } catch (err) {
      if (timeout.aborted) {
        return { kind: 'retry', type: 'timeout', message: `no answer within ${this.timeoutMs} ms (it will be sent again with the same id: the receiver may have taken it)`, afterSeconds: null };
      }
      return { kind: 'retry', type: 'connection', message: scrub(describeError(err)), afterSeconds: null };
    }
  }

  /** Says once per event that its webhook has no secret (again if it loses one in a reload). */
  private noteUnsigned(): void {
    for (const event of ALERT_EVENTS) {
      const hook = this.webhooks[event];
      if (!hook?.url || hook.secret) {
        this.unsigned.delete(event);
        continue;
      }
      if (this.unsigned.has(event)) continue;
      this.unsigned.add(event);
      this.log.warn({ webhook_event: event, webhook_origin: originOf(hook.url) }, `webhook ${event}: no secret, so its requests carry no X-NRDOT-Signature (set webhooks.${event}.secret)`);
    }
  }
}

/** The body to send, from the outbox row; null when the row holds something else. */
function bodyOf(row: AlertRow): WebhookBody | null {
  const p = row.payload as Partial<StoredBody> | null;
  if (p === null || typeof p !== 'object' || !isAlertEvent(row.event) || p.event !== row.event) return null;
  if (typeof p.host !== 'string' || typeof p.time !== 'string' || typeof p.details !== 'object' || p.details === null) return null;
  // host-outboxid: stable across retries and restarts (outbox ids are never reused), unique per host.
  return { id: `${encodeURIComponent(p.host)}-${row.id}`, event: p.event, host: p.host, time: p.time, details: p.details };
}

function classify(status: number, headers: IncomingHttpHeaders, body: Buffer, scrub: (text: string) => string): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const message = `HTTP ${status}${excerpt(body, scrub)}`;
  if (status >= 300 && status < 400) {
    return { kind: 'retry', type: String(status), message: `${message} (redirects are not followed: set the webhook's url to where it points)`, afterSeconds: null };
  }
  if (status === 408 || status === 429 || status >= 500) {
    const after = status === 429 || status === 503 ? retryAfterMs(headers['retry-after']) : null;
    return { kind: 'retry', type: String(status), message, afterSeconds: after === null ? null : after / 1000 };
  }
  return { kind: 'permanent', type: String(status), message };
}

/** A short, scrubbed, printable excerpt of an error answer's body (receivers often say what is wrong). */
function excerpt(body: Buffer, scrub: (text: string) => string): string {
  const text = scrub(body.toString('utf8')).replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);
  return text ? ` (${text})` : '';
}

function describeError(err: unknown): string {
  const e = err as Error & { code?: string };
  return e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

function describeSeconds(seconds: number): string {
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 60) return `${(seconds / 60).toFixed(1)} min`;
  return `${seconds.toFixed(1)} s`;
}
