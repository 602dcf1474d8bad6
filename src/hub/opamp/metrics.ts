// Counters of the OpAMP server (and the OTLP receiver) that the hub renders on its own /metrics.
// Plain numbers: the renderer (src/hub/server.ts) reads them; nothing here knows Prometheus.
export type Transport = 'http' | 'ws';
/** ok: answered; bad_request: 400 / BAD_REQUEST; unauthorized: 401; unsupported: 415;
 * too_large: 413; unavailable: 503 / UNAVAILABLE (starting, overloaded, storage failing). */
export type Outcome = 'ok' | 'bad_request' | 'unauthorized' | 'unsupported' | 'too_large' | 'unavailable';

export const OUTCOMES: readonly Outcome[] = ['ok', 'bad_request', 'unauthorized', 'unsupported', 'too_large', 'unavailable'];
/** Upper bounds (seconds) of the latency histogram's buckets; +Inf is `count`. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface LatencyHistogram {
  /** Cumulative counts per bucket of LATENCY_BUCKETS (Prometheus `le`). */
  buckets: number[];
  sum: number;
  count: number;
}

export interface OpampMetrics {
  /** OpAMP messages handled, by transport and outcome (`nrdot_hub_opamp_requests_total`). */
  requests: Record<Transport, Record<Outcome, number>>;
  /** Time from a message's arrival to its reply, both transports (`nrdot_hub_opamp_request_seconds`). */
  latency: LatencyHistogram;
  /** WebSocket connections open now on this replica. */
  wsConnections: number;
  /** Messages being processed now. */
  inFlight: number;
  /** Heartbeats waiting for the next batched write. */
  pendingSeen: number;
  /** Request-channel messages taken from the store and not yet delivered (overflow beyond one per reply). */
  pendingMessages: number;
  /** Remote configs sent, and WebSocket pushes after a change. */
  remoteConfigsSent: number;
  pushes: number;
  /** Agents the offline sweep marked offline, and clones given a new UID. */
  markedOffline: number;
  clones: number;
  /** OTLP /v1/metrics requests by outcome, and data points stored or rejected. */
  otlpRequests: Record<Outcome, number>;
  otlpPointsAccepted: number;
  otlpPointsRejected: number;
}

function outcomes(): Record<Outcome, number> {
  return { ok: 0, bad_request: 0, unauthorized: 0, unsupported: 0, too_large: 0, unavailable: 0 };
}

export function createOpampMetrics(): OpampMetrics {
  return {
    requests: { http: outcomes(), ws: outcomes() },
    latency: { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 },
    wsConnections: 0,
    inFlight: 0,
    pendingSeen: 0,
    pendingMessages: 0,
    remoteConfigsSent: 0,
    pushes: 0,
    markedOffline: 0,
    clones: 0,
    otlpRequests: outcomes(),
    otlpPointsAccepted: 0,
    otlpPointsRejected: 0,
  };
}

export function observeLatency(h: LatencyHistogram, seconds: number): void {
  h.sum += seconds;
  h.count++;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) h.buckets[i]!++;
}
