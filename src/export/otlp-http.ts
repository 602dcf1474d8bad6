/**
 * The OTLP/HTTP sender: drains the durable queue to the backend, one request at a time, oldest first.
 *
 * - 2xx: delivered (a partial success's rejected datapoints are logged once per message and counted).
 * - 429, 502, 503, 504, a connection error or a timeout: retried, with exponential backoff and
 *   jitter, or after `Retry-After` (429, 503). The batch stays queued meanwhile, across restarts.
 * - 413: the batch is cut in two by resources, in its place in the queue.
 * - Anything else (400, 401, 403, ...): permanent. Logged once per status, counted, dropped; the
 *   export counts as failing until the backend accepts a batch again.
 *
 * A batch is sent at most once, except after a timeout or a connection lost mid-request, when the
 * backend may have accepted it before the answer was lost. A random splay delays the first request,
 * and `max_requests_per_second` bounds the rate while a backlog drains.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { Logger } from '../agent/log.js';
import { redactUrl, type Redactor } from '../config/secrets.js';
import type { Metric } from '../pipeline/types.js';
import { VERSION } from '../version.js';
import { Health } from './health.js';
import { MAX_REQUEST_BYTES, type OtlpSettings } from './otlp-settings.js';
import type { DurableQueue } from './queue.js';
import type { Transport } from './transport.js';
import { bodyToSend, splitStored } from './requests.js';

const RETRYABLE = new Set([429, 502, 503, 504]);
/** Longest Retry-After honoured (a backend asking for more is asked again after this). */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** How long stop() lets a request in flight finish. */
const STOP_GRACE_MS = 5_000;

export interface DeliveryStats {
  /** Batches delivered (2xx). */
  delivered: number;
  /** Batches given up on (refused for good, or one resource too large even alone). */
  failed: number;
  /** Attempts that failed and will be retried (429, 502-504, a timeout, a connection error). */
  retries: number;
  /** Datapoints a backend rejected in a partial success. */
  rejectedDatapoints: number;
}

type Outcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; type: string; message: string; retryAfterMs: number | null }
  | { kind: 'permanent'; type: string; message: string }
  | { kind: 'too_large' };

/** Retry-After: delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return null;
  const ms = /^\s*\d+\s*$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return null;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

export class OtlpHttpSender {
  readonly stats: DeliveryStats = { delivered: 0, failed: 0, retries: 0, rejectedDatapoints: 0 };
  private readonly stop$ = new AbortController();
  /** Cancels a request in flight when stop() has waited long enough. */
  private readonly cancel = new AbortController();
  private inFlight: Promise<unknown> = Promise.resolve();
  private wakeUp: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private lastRequestAt = -Infinity;
  /** Consecutive failed attempts (for the backoff) and when the current outage began. */
  private failures = 0;
  private failingSince = 0;
  private lastFailure = '';
  /** Batches refused for good since the last one delivered, when the first was refused, and why. */
  private refusal: { count: number; since: number; message: string } | null = null;
  /** Whether the queue stores the intervals' batches (not when its disk is full). */
  private readonly queueHealth: Health;
  private readonly loggedStatuses = new Set<string>();
  private lastDelivered = 0;
  private readonly loggedPartial = new Set<string>();
  /** The URL as logs and status show it: user info and query masked. */
  readonly endpoint: string;

  /** `redactor` scrubs what a backend or the network says (it knows the header values and the license key). */
  constructor(
    private readonly settings: OtlpSettings,
    private readonly queue: DurableQueue,
    private readonly log: Logger,
    private readonly transport: Transport,
    private readonly redactor: Redactor,
    private readonly random: () => number = Math.random,
  ) {
    this.endpoint = redactUrl(settings.url);
    this.queueHealth = new Health(
      log,
      `OTLP export: the queue in ${settings.queueDir}`,
      "this interval's batch is dropped (counted in nrdot_export_batches_dropped_total), the batches queued before are kept",
    );
  }

  /** Intervals whose batch could not be queued (dropped). */
  get intervalsFailed(): number {
    return this.queueHealth.intervalsFailed;
  }

  /** Sends in the background until stop(): after the splay, then whenever batches are queued. */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Queues an interval's request bodies and wakes the sender. A queue that cannot take them (its disk
   * full) loses this interval's batch, not the batches already queued nor the rest of the interval:
   * counted as dropped, logged once until the queue takes a batch again.
   */
  submit(bodies: Uint8Array[]): void {
    this.queueHealth.run(() => {
      let failure: unknown = null;
      for (const body of bodies) {
        try {
          this.queue.enqueue(body);
        } catch (err) {
          failure = err;
        }
      }
      if (failure !== null) throw new Error(`cannot store this interval's batch: ${(failure as Error).message}`);
    });
    this.wake();
  }

  /** A batch was queued, or stop() came. */
  private wake(): void {
    this.wakeUp?.();
  }

  /** Stops sending; a request in flight has STOP_GRACE_MS to finish; the queue stays on disk. */
  async stop(): Promise<void> {
    this.stop$.abort();
    this.wake();
    // A request in flight gets a few seconds to be answered, then is cancelled (sent again next run).
    const grace = setTimeout(() => this.cancel.abort(), STOP_GRACE_MS);
    try {
      await this.loop;
      await this.inFlight;
    } finally {
      clearTimeout(grace);
    }
    await this.transport.close();
  }

  /**
   * Sends what is queued now, once, without waiting for retries (`--once`): stops at the first
   * failure that would be retried, leaving that batch and the rest queued for the next run.
   */
  async flush(): Promise<void> {
    while (!this.stop$.signal.aborted) {
      const outcome = await this.next();
      if (outcome === null || outcome.kind === 'retry') break;
    }
  }

  private async run(): Promise<void> {
    const splay = this.random() * this.settings.splayMs;
    if (splay > 0) await this.pause(splay);
    while (!this.stop$.signal.aborted) {
      if (this.queue.depth === 0) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = null;
        continue;
      }
      const outcome = await this.next();
      if (outcome?.kind === 'retry') await this.pause(outcome.retryAfterMs ?? this.backoff());
    }
  }

  /**
   * Sends the oldest batch, no sooner than the drain-rate bound allows (at most
   * max_requests_per_second, whatever the backlog). Null when there is nothing to send or stop() came.
   * The queue's own failures (disk full, unreadable file) are logged and retried like a failed request.
   */
  private async next(): Promise<Outcome | null> {
    const gap = this.lastRequestAt + 1000 / this.settings.maxRequestsPerSecond - performance.now();
    if (gap > 0) await this.pause(gap);
    if (this.stop$.signal.aborted) return null;
    try {
      const batch = this.queue.peek();
      return batch ? await this.attempt(batch.key, batch.payload) : null;
    } catch (err) {
      const message = `the queue in ${this.settings.queueDir} failed: ${(err as Error).message}`;
      this.failed('queue', message);
      return { kind: 'retry', type: 'queue', message, retryAfterMs: null };
    }
  }

  /** One request for one queued batch, and what follows from its answer. */
  private async attempt(key: string, stored: Buffer): Promise<Outcome> {
    let body: Buffer;
    try {
      body = bodyToSend(stored, this.settings.compression);
    } catch (err) {
      // Not something this agent wrote whole (the queue only renames complete files): it can never go.
      this.queue.remove(key);
      this.stats.failed++;
      this.log.error({ queue: this.settings.queueDir, batch: key }, `OTLP queue: dropped batch ${key}, unreadable: ${(err as Error).message}`);
      return { kind: 'permanent', type: 'unreadable', message: (err as Error).message };
    }
    let outcome: Outcome = { kind: 'too_large' };
    if (body.length < MAX_REQUEST_BYTES) {
      const sending = this.send(body);
      this.inFlight = sending;
      outcome = await sending;
    }
    switch (outcome.kind) {
      case 'delivered':
        this.queue.remove(key);
        this.stats.delivered++;
        this.lastDelivered = Date.now();
        if (this.refusal) {
          this.log.info(
            { otlp_endpoint: this.endpoint, refused_batches: this.refusal.count },
            `OTLP export accepted again by ${this.endpoint} after ${this.refusal.count} batches refused for good`,
          );
          this.refusal = null;
        }
        if (this.failures > 0) {
          const seconds = Math.round((Date.now() - this.failingSince) / 1000);
          this.log.info(
            { otlp_endpoint: this.endpoint, failed_attempts: this.failures, outage_s: seconds, queued_batches: this.queue.depth },
            `OTLP export delivering again after ${this.failures} failed attempts over ${seconds} s; ${this.queue.depth} batches still queued`,
          );
        }
        this.failures = 0;
        this.lastFailure = '';
        break;
      case 'too_large': {
        let halves: [Buffer, Buffer] | null = null;
        try {
          halves = splitStored(stored);
        } catch {
          // not a request we can cut: dropped below
        }
        if (halves) {
          this.queue.split(key, halves);
        } else {
          this.queue.remove(key);
          this.stats.failed++;
          this.log.error({ otlp_endpoint: this.endpoint }, 'OTLP export dropped one resource\'s metrics: too large for the backend even alone');
        }
        break;
      }
      case 'permanent':
        this.queue.remove(key);
        this.stats.failed++;
        this.refusal = { count: (this.refusal?.count ?? 0) + 1, since: this.refusal?.since ?? Date.now(), message: outcome.message };
        if (!this.loggedStatuses.has(outcome.type)) {
          this.loggedStatuses.add(outcome.type);
          this.log.error(
            { otlp_endpoint: this.endpoint, status: outcome.type },
            `OTLP export rejected by ${this.endpoint}: ${outcome.message}. Such batches are dropped (not retried) and counted in nrdot_export_batches_failed_total; this is logged once`,
          );
        }
        break;
      case 'retry':
        this.queue.release(key);
        this.failed(outcome.type, `OTLP export to ${this.endpoint} failed: ${outcome.message}`);
        break;
    }
    return outcome;
  }

  /**
   * For `status` and /metrics: is the export failing (the queue cannot store batches, attempts fail
   * and are retried, or the backend refuses batches for good until it accepts one), since when (ms
   * since epoch) and why, and the last delivery.
   */
  health(): { failing: boolean; failingSince: number | null; lastError: string | null; lastDelivered: number | null } {
    const queue = this.queueHealth.state();
    const since = [this.queueHealth.since, this.failures > 0 ? this.failingSince : undefined, this.refusal?.since].filter((t) => t !== undefined);
    const failing = since.length > 0;
    return {
      failing,
      failingSince: failing ? Math.min(...since) : null,
      lastError: queue.last_error ?? (this.failures > 0 ? this.lastFailure : (this.refusal?.message ?? null)),
      lastDelivered: this.lastDelivered || null,
    };
  }

  /** A failure that will be retried: counted; logged when it differs from the previous one. */
  private failed(type: string, message: string): void {
    this.stats.retries++;
    if (this.failures++ === 0) this.failingSince = Date.now();
    if (message === this.lastFailure) return;
    this.lastFailure = message;
    this.log.warn(
      { otlp_endpoint: this.endpoint, error_type: type, queued_batches: this.queue.depth },
      `${message}; retrying with backoff, ${this.queue.depth} batches kept in the queue`,
    );
  }

  /** Resources too large to send even alone (cut off before the queue): counted and logged. */
  dropOversize(count: number): void {
    if (count === 0) return;
    this.stats.failed += count;
    this.log.error({ otlp_endpoint: this.endpoint, resources: count }, `OTLP export dropped ${count} resources: each is over ${MAX_REQUEST_BYTES} bytes even alone`);
  }

  private async send(body: Buffer): Promise<Outcome> {
    const headers: Record<string, string> = {
      ...this.settings.headers,
      'content-type': 'application/x-protobuf',
      'user-agent': `nrdot-plus/${VERSION}`,
    };
    if (this.settings.compression === 'gzip') headers['content-encoding'] = 'gzip';
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    this.lastRequestAt = performance.now();
    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let responseBody: Buffer;
    try {
      const answer = await this.transport.post(this.settings.url, headers, body, AbortSignal.any([timeout, this.cancel.signal]));
      status = answer.status;
      responseHeaders = answer.headers;
      responseBody = answer.body;
    } catch (err) {
      if (timeout.aborted || this.cancel.signal.aborted) {
        const why = timeout.aborted ? `no answer within ${this.settings.timeoutMs} ms` : 'the agent stopped before the answer came';
        return { kind: 'retry', type: 'timeout', message: `${why} (the batch will be sent again: the backend may have taken it)`, retryAfterMs: null };
      }
      const code = (err as { code?: string }).code ?? '';
      if (code === 'UND_ERR_INVALID_ARG' || code.startsWith('ERR_INVALID_')) {
        return { kind: 'permanent', type: 'invalid_request', message: this.describe(err) };
      }
      return { kind: 'retry', type: 'connection', message: this.describe(err), retryAfterMs: null };
    }
    if (status >= 200 && status < 300) {
      this.partialSuccess(responseBody);
      return { kind: 'delivered' };
    }
    if (status === 413) return { kind: 'too_large' };
    const message = `${status}${this.detail(responseBody)}`;
    if (RETRYABLE.has(status)) {
      const after = status === 429 || status === 503 ? retryAfterMs(responseHeaders['retry-after']) : null;
      return { kind: 'retry', type: String(status), message, retryAfterMs: after };
    }
    const hint = status === 401 || status === 403 ? ' (check the license key or api-key header)' : '';
    return { kind: 'permanent', type: String(status), message: message + hint };
  }

  /** Exponential backoff from retry.initial_interval, randomized by +-50%, capped at retry.max_interval. */
  private backoff(): number {
    const base = Math.min(this.settings.retryMaxMs, this.settings.retryInitialMs * 2 ** Math.max(0, this.failures - 1));
    return Math.min(this.settings.retryMaxMs, base * (0.5 + this.random()));
  }

  private partialSuccess(body: Buffer): void {
    if (body.length === 0) return;
    let rejected = 0;
    let message = '';
    try {
      const response = ProtobufMetricsSerializer.deserializeResponse(body);
      rejected = Number(response.partialSuccess?.rejectedDataPoints ?? 0);
      message = response.partialSuccess?.errorMessage ?? '';
    } catch {
      return; // not an OTLP protobuf answer: nothing to learn from it
    }
    if (rejected <= 0 && !message) return;
    this.stats.rejectedDatapoints += rejected;
    if (this.loggedPartial.size < 20 && !this.loggedPartial.has(message)) {
      this.loggedPartial.add(message);
      this.log.warn(
        { otlp_endpoint: this.endpoint, rejected_datapoints: rejected },
        `OTLP backend accepted a batch partially: ${rejected} datapoints rejected${message ? `: ${this.redactor.scrub(message)}` : ''}`,
      );
    }
  }

  /** A short, scrubbed excerpt of an error answer's body. */
  private detail(body: Buffer): string {
    const text = this.redactor.scrub(body.toString('utf8')).replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);
    return text ? ` (${text})` : '';
  }

  private describe(err: unknown): string {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.cause?.code ?? e.code;
    const message = e.cause?.message ?? e.message;
    return this.redactor.scrub(code && !message.includes(code) ? `${code}: ${message}` : message);
  }

  /** Waits, unless stop() comes first. */
  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.stop$.signal });
    } catch {
      // stopped
    }
  }
}

/**
 * The delivery self-metrics, sent with every batch and served at /metrics: queue depth and bytes,
 * delivered, dropped (queue or disk full), failed and lost batches, retries. Counters carry both the
 * delta since the previous call and the cumulative value since `since` (the agent's start).
 */
export class DeliveryMetrics {
  private previous = new Map<string, number>();

  constructor(
    private readonly sender: OtlpHttpSender,
    private readonly queue: DurableQueue,
    private readonly since: number,
  ) {}

  metrics(): Metric[] {
    const s = this.sender.stats;
    const seen = new Map<string, number>();
    const counter = (name: string, unit: string, description: string, cumulative: number): Metric => {
      seen.set(name, cumulative);
      const value = cumulative - (this.previous.get(name) ?? 0);
      return { name, unit, description, kind: 'sum', monotonic: true, integer: true, points: [{ attributes: null, value, cumulative, start: this.since }] };
    };
    const out: Metric[] = [
      { name: 'nrdot.export.queue.batches', unit: '{batch}', description: 'Batches waiting in the OTLP delivery queue.', kind: 'gauge', monotonic: false, integer: true, points: [{ attributes: null, value: this.queue.depth }] },
      { name: 'nrdot.export.queue.size', unit: 'By', description: 'Bytes waiting in the OTLP delivery queue.', kind: 'gauge', monotonic: false, integer: true, points: [{ attributes: null, value: this.queue.bytes }] },
      counter('nrdot.export.batches.delivered', '{batch}', 'Batches the OTLP backend accepted.', s.delivered),
      counter('nrdot.export.batches.dropped', '{batch}', 'Batches dropped because the delivery queue was full (the oldest), or its disk (the newest).', this.queue.dropped),
      counter('nrdot.export.batches.failed', '{batch}', 'Batches the OTLP backend refused for good (400, 401, 403, ...), or too large even alone.', s.failed),
      counter('nrdot.export.batches.lost', '{batch}', 'Queued batches whose files vanished from the queue directory (removed outside the agent), skipped.', this.queue.lost),
      counter('nrdot.export.retries', '{request}', 'OTLP requests that failed and are retried (429, 502-504, timeouts, connection errors).', s.retries),
      counter('nrdot.export.datapoints.rejected', '{datapoint}', 'Datapoints the OTLP backend rejected in partial successes.', s.rejectedDatapoints),
    ];
    this.previous = seen;
    return out;
  }
}
