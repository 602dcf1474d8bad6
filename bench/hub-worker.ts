/**
 * A load worker of the hub benchmark (`bench/hub.ts` forks a few): it runs its share of simulated
 * agents (hub-sim.ts) against the hub over HTTP on loopback, in a process of its own so that the
 * load's CPU is measured apart from the hub's, and answers the benchmark over the IPC channel:
 *
 * - `{type: 'init', ...WorkerInit}`: create the agents and start them, spread over `spreadMs`;
 *   replies `{type: 'ready'}`.
 * - `{type: 'reset'}`: start a new measurement window (latencies, errors).
 * - `{type: 'report'}`: replies `{type: 'report', ...WorkerReport}`: the window's figures, totals
 *   since the start, and the configs applied since the last report.
 *
 * Each agent has one keep-alive connection (node:http Agent, maxSockets 1) shared by its OpAMP polls
 * and its OTLP exports: a real agent has one per client, but two per agent would take 20,000
 * descriptors at 10,000 agents, the hub's limit on the machine the figures come from.
 */
import http from 'node:http';
import { OPAMP_CONTENT_TYPE } from '../src/fleet/codec.js';
import { agentSpec, kpiRequest, SimAgent, type Applied } from './hub-sim.js';
import { addCounters, Histogram, REQUEST_TYPES, type Counters, type RequestType, type WindowStats } from './hub-stats.js';

export interface WorkerInit {
  /** e.g. http://127.0.0.1:4320 */
  hubUrl: string;
  /** Agents [first, first + count) of the whole fleet. */
  first: number;
  count: number;
  defaultHeartbeatS: number;
  kpiIntervalS: number;
  /** Agents' first messages are spread evenly over this. */
  spreadMs: number;
  timeoutMs: number;
  /** Extra headers on OpAMP requests (the enrollment secret). */
  headers: Record<string, string>;
}

export interface WorkerReport {
  window: WindowStats & { sent: Record<RequestType, number> };
  total: { errors: Counters; unavailable: number; sent: number; answered: number };
  inFlight: number;
  /** Agents that sent their first message, and that know where to send KPIs. */
  started: number;
  withKpiEndpoint: number;
  /** Heartbeat intervals in force, by seconds. */
  heartbeats: Record<string, number>;
  applied: Applied[];
}

type Message = ({ type: 'init' } & WorkerInit) | { type: 'reset' } | { type: 'report' };

function newWindow(): WindowStats & { sent: Record<RequestType, number>; hist: Record<RequestType, Histogram> } {
  const hist = Object.fromEntries(REQUEST_TYPES.map((t) => [t, new Histogram()])) as Record<RequestType, Histogram>;
  const sent = Object.fromEntries(REQUEST_TYPES.map((t) => [t, 0])) as Record<RequestType, number>;
  return { hist, sent, latency: {} as WindowStats['latency'], errors: {}, unavailable: 0, fullStateRequests: 0, fullStateUnprovoked: 0, newUids: 0 };
}

let window = newWindow();
const total = { errors: {} as Counters, unavailable: 0, sent: 0, answered: 0 };
let inFlight = 0;
let applied: Applied[] = [];
const agents: SimAgent[] = [];
const started = new Set<SimAgent>();

function error(kind: string): void {
  window.errors[kind] = (window.errors[kind] ?? 0) + 1;
  total.errors[kind] = (total.errors[kind] ?? 0) + 1;
}

function unavailable(): void {
  window.unavailable++;
  total.unavailable++;
}

interface Answer {
  status: number;
  body: Buffer;
  retryAfterS: number | null;
}

/** POSTs a body; resolves with the answer, or null after counting the failure. */
function post(url: URL, body: Uint8Array, headers: Record<string, string>, pool: http.Agent, type: RequestType, timeoutMs: number): Promise<Answer | null> {
  window.sent[type]++;
  total.sent++;
  inFlight++;
  const t0 = performance.now();
  const hist = window.hist[type]; // a reply that lands after a reset counts in the window it started in
  return new Promise((resolve) => {
    let done = false;
    const finish = (answer: Answer | null, problem?: string): void => {
      if (done) return;
      done = true;
      inFlight--;
      if (answer) {
        hist.record(performance.now() - t0);
        total.answered++;
      } else error(problem ?? 'unknown');
      resolve(answer);
    };
    const req = http.request(url, { method: 'POST', agent: pool, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const retry = Number(res.headers['retry-after']);
        finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), retryAfterS: Number.isFinite(retry) ? retry : null });
      });
      res.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? 'response_error'));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      finish(null, 'timeout');
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(null, err.code ?? 'request_error'));
    req.end(body);
  });
}

function run(init: WorkerInit): void {
  const opampUrl = new URL('/v1/opamp', init.hubUrl);
  for (let i = 0; i < init.count; i++) {
    const agent = new SimAgent(agentSpec(init.first + i), init.defaultHeartbeatS);
    agents.push(agent);
    const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let kpiTimer: NodeJS.Timeout | null = null;

    const poll = async (): Promise<void> => {
      started.add(agent);
      const type: RequestType = agent.nextIsHeartbeat ? 'opamp_heartbeat' : 'opamp_status';
      const wasFull = !agent.nextIsHeartbeat;
      const body = agent.nextMessage();
      const answer = await post(opampUrl, body, { ...init.headers, 'content-type': OPAMP_CONTENT_TYPE }, pool, type, init.timeoutMs);
      let delayMs: number;
      if (!answer) {
        delayMs = agent.failed().delayMs;
      } else if (answer.status === 429 || answer.status === 503) {
        unavailable();
        delayMs = agent.failed(answer.retryAfterS === null ? undefined : answer.retryAfterS * 1000).delayMs;
      } else if (answer.status !== 200) {
        error(`http_${answer.status}`);
        delayMs = agent.failed().delayMs;
      } else {
        const r = agent.onReply(answer.body, Date.now());
        if (r.problem === 'unavailable') unavailable();
        else if (r.problem) error(r.problem);
        if (r.fullStateAsked) window.fullStateRequests++;
        if (r.fullStateAsked && !r.retried && !wasFull) window.fullStateUnprovoked++;
        if (r.newUid) window.newUids++;
        if (r.applied) applied.push(r.applied);
        delayMs = r.next.delayMs;
        if (agent.kpiUrl && !kpiTimer) {
          // Own metrics every interval from here on, at a phase of its own.
          kpiTimer = setTimeout(exportKpis, Math.random() * init.kpiIntervalS * 1000);
        }
      }
      setTimeout(() => void poll(), delayMs);
    };

    const exportKpis = async (): Promise<void> => {
      kpiTimer = setTimeout(exportKpis, init.kpiIntervalS * 1000);
      if (agent.kpiUrl) await sendKpis(kpiRequest(agent, Date.now() / 1000), 0);
    };
    /** The agent's queue sends a batch again until it is taken (here at most 5 attempts, then it is counted lost). */
    const sendKpis = async (body: Uint8Array, attempt: number): Promise<void> => {
      const answer = await post(new URL(agent.kpiUrl!), body, { ...agent.kpiHeaders, 'content-type': 'application/x-protobuf' }, pool, 'otlp', init.timeoutMs);
      let retryMs: number | null = null;
      if (!answer) retryMs = 1000 * 2 ** attempt;
      else if (answer.status === 429 || answer.status === 503) {
        unavailable();
        retryMs = (answer.retryAfterS ?? 2 ** attempt) * 1000;
      } else if (answer.status < 200 || answer.status > 299) error(`otlp_http_${answer.status}`);
      if (retryMs === null) return;
      if (attempt >= 4) error('otlp_batch_lost');
      else setTimeout(() => void sendKpis(body, attempt + 1), retryMs);
    };

    setTimeout(() => void poll(), (i / init.count) * init.spreadMs);
  }
}

function report(): WorkerReport {
  const heartbeats: Record<string, number> = {};
  for (const a of agents) heartbeats[a.heartbeatS] = (heartbeats[a.heartbeatS] ?? 0) + 1;
  const w = window;
  const out: WorkerReport = {
    window: {
      sent: w.sent,
      latency: Object.fromEntries(REQUEST_TYPES.map((t) => [t, w.hist[t].toJSON()])) as WindowStats['latency'],
      errors: { ...w.errors },
      unavailable: w.unavailable,
      fullStateRequests: w.fullStateRequests,
      fullStateUnprovoked: w.fullStateUnprovoked,
      newUids: w.newUids,
    },
    total: { errors: addCounters({}, total.errors), unavailable: total.unavailable, sent: total.sent, answered: total.answered },
    inFlight,
    started: started.size,
    withKpiEndpoint: agents.filter((a) => a.kpiUrl).length,
    heartbeats,
    applied,
  };
  applied = [];
  return out;
}

process.on('message', (msg: Message) => {
  if (msg.type === 'init') {
    run(msg);
    process.send!({ type: 'ready' });
  } else if (msg.type === 'reset') {
    window = newWindow();
    process.send!({ type: 'reset' });
  } else if (msg.type === 'report') {
    process.send!({ type: 'report', ...report() });
  }
});
// The benchmark gone (even by SIGKILL): nothing left behind.
process.on('disconnect', () => process.exit(0));
