/**
 * Latency histograms and counters the hub benchmark's workers keep and the benchmark merges:
 * log-scale buckets 1% wide (a quantile is off by at most 1%), so that a worker's figures cross the
 * IPC channel as a few hundred numbers whatever the number of requests.
 */

/** Smallest latency told apart (ms); anything faster counts in the first bucket. */
const MIN_MS = 0.01;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export interface HistogramData {
  /** [bucket index, count], in no particular order. */
  buckets: Array<[number, number]>;
  count: number;
  sumMs: number;
  maxMs: number;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  sumMs = 0;
  maxMs = 0;

  static bucketOf(ms: number): number {
    return ms <= MIN_MS ? 0 : Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH);
  }

  /** The upper bound of a bucket: a quantile is never reported faster than it was. */
  static upperBound(bucket: number): number {
    return MIN_MS * GROWTH ** bucket;
  }

  record(ms: number): void {
    const b = Histogram.bucketOf(ms);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(other: HistogramData): void {
    for (const [b, n] of other.buckets) this.counts.set(b, (this.counts.get(b) ?? 0) + n);
    this.count += other.count;
    this.sumMs += other.sumMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  /** The q-quantile (0 < q <= 1) as the upper bound of its bucket, capped at the maximum seen; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(Histogram.upperBound(b), this.maxMs);
    }
    return this.maxMs;
  }

  get meanMs(): number {
    return this.count ? this.sumMs / this.count : NaN;
  }

  toJSON(): HistogramData {
    return { buckets: [...this.counts.entries()], count: this.count, sumMs: this.sumMs, maxMs: this.maxMs };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }
}

/** What went wrong with requests, by kind (e.g. `timeout`, `http_500`, `ECONNRESET`, `unavailable`). */
export type Counters = Record<string, number>;

export function addCounters(into: Counters, from: Counters): Counters {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  return into;
}

export const sumCounters = (c: Counters): number => Object.values(c).reduce((a, b) => a + b, 0);

/** The request types the workers time apart. */
export const REQUEST_TYPES = ['opamp_heartbeat', 'opamp_status', 'otlp'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/** One worker's figures since its last reset. */
export interface WindowStats {
  latency: Record<RequestType, HistogramData>;
  /** Requests that got no usable answer (connection errors, timeouts, HTTP errors, undecodable replies), by kind. */
  errors: Counters;
  /** OpAMP ServerErrorResponse UNAVAILABLE or HTTP 429/503: answered, but told to come back. */
  unavailable: number;
  /** ReportFullState flags received (a hub that lost track of an agent asks for everything again). */
  fullStateRequests: number;
  /** Of them, on a heartbeat sent once, in sequence: the hub lost track without a cause on the agent's side. */
  fullStateUnprovoked: number;
  /** New instance UIDs the hub gave (it took the agent for a clone); none expected here. */
  newUids: number;
}
