/**
 * One simulated agent of the hub benchmark, as an OpAMP client over plain HTTP behaves (opamp-go's
 * HTTP client is the model): the first message carries the full state; then a poll every offered
 * heartbeat with 10% jitter carrying only what changed; ReportFullState is honoured at once; a remote
 * config is "applied" on arrival and reported APPLIED with its hash in a message sent right away; own
 * metrics (the agent's KPIs, named as the agent names them) go over OTLP/HTTP protobuf to the offered
 * endpoint every KPI interval. No timers and no sockets here: the worker (hub-worker.ts) schedules and
 * sends; this decides what to send and what a reply means, so that it can be checked alone.
 */
import {
  AgentToServerSchema,
  ComponentHealthSchema,
  create,
  decodeServerToAgent,
  encodeAgentToServer,
  recordToAttributes,
  uidToString,
  type RemoteConfigStatuses,
  type ServerErrorResponseType,
  type AgentToServer,
  type ServerToAgent,
} from '../src/fleet/codec.js';
import { NRDOT_CAPABILITY } from '../src/fleet/directives.js';
import { uuidv7 } from '../src/fleet/uuid.js';
import { encodeProtobuf } from '../src/otlp/encode.js';
import type { Metric, ResourceSeries } from '../src/pipeline/types.js';

/** The protocol's numbers (opamp.proto), which do not change, whatever the generated enums' names. */
export const OPAMP = {
  ReportsStatus: 0x1,
  AcceptsRemoteConfig: 0x2,
  ReportsEffectiveConfig: 0x4,
  ReportsOwnMetrics: 0x40,
  ReportsHealth: 0x800,
  ReportsRemoteConfig: 0x1000,
  ReportsHeartbeat: 0x2000,
  /** ServerToAgentFlags */
  ReportFullState: 0x1n,
  APPLIED: 1 as RemoteConfigStatuses,
  Unavailable: 2 as ServerErrorResponseType,
} as const;

export const CAPABILITIES =
  OPAMP.ReportsStatus |
  OPAMP.AcceptsRemoteConfig |
  OPAMP.ReportsRemoteConfig |
  OPAMP.ReportsEffectiveConfig |
  OPAMP.ReportsHealth |
  OPAMP.ReportsHeartbeat |
  OPAMP.ReportsOwnMetrics;

export const ROLES = ['db', 'web', 'cache', 'batch'] as const;

/** What an agent is, fixed by its index so that the benchmark knows which ones a selector picks. */
export interface AgentSpec {
  index: number;
  role: (typeof ROLES)[number];
  env: string;
  hostName: string;
}

export function agentSpec(index: number): AgentSpec {
  return { index, role: ROLES[index % ROLES.length]!, env: index % 10 === 0 ? 'staging' : 'prod', hostName: `bench-host-${String(index).padStart(5, '0')}` };
}

/** What the agent does after a reply. */
export interface Next {
  /** Send the next message now (full state asked for, a config just applied, told to retry). */
  now: boolean;
  /** Or after this many ms (0 with `now`). */
  delayMs: number;
}

export type ReplyProblem = 'bad_reply' | 'wrong_uid' | 'unavailable' | 'server_error';

/** A remote config the agent applied: when, and the hash it reported. */
export interface Applied {
  uid: string;
  role: string;
  hash: string;
  atMs: number;
}

const EFFECTIVE_CONFIG = 'version: 1\ninterval: 60s\nprofile: balanced\nexporters:\n  otlp:\n    endpoint: https://otlp.example.com:4318\n    headers: { api-key: "[REDACTED]" }\n';

export class SimAgent {
  uid: Uint8Array;
  uidText: string;
  private seq = 0n;
  /** Send everything (first message, or the hub asked for it). */
  private needFull = true;
  /** A config was applied and its status not yet carried by a message the hub answered. */
  private statusPending = false;
  private appliedHash: Uint8Array = new Uint8Array();
  private appliedConfig = 0;
  private readonly startNs = BigInt(Date.now()) * 1_000_000n;
  heartbeatS: number;
  kpiUrl: string | null = null;
  kpiHeaders: Record<string, string> = {};
  /** The message not yet answered: sent again as it is (same sequence number), as opamp-go retries a request. */
  private pending: { body: Uint8Array; heartbeat: boolean; attempts: number } | null = null;
  /** Failed attempts in a row, for the backoff. */
  private failures = 0;

  constructor(
    readonly spec: AgentSpec,
    defaultHeartbeatS: number,
    private readonly jitter = 0.1,
    private readonly random: () => number = Math.random,
  ) {
    this.uid = uuidv7();
    this.uidText = uidToString(this.uid);
    this.heartbeatS = defaultHeartbeatS;
  }

  /** The next poll's delay: the heartbeat +-10%, as clients spread their polls. */
  pollDelayMs(): number {
    return this.heartbeatS * 1000 * (1 - this.jitter + 2 * this.jitter * this.random());
  }

  /** Whether the next message is a heartbeat (for latency by type). */
  get nextIsHeartbeat(): boolean {
    return this.pending ? this.pending.heartbeat : !this.needFull && !this.statusPending;
  }

  /** The next AgentToServer, encoded: the unanswered one again, or a new one where unchanged parts are left out, as the protocol allows. */
  nextMessage(): Uint8Array {
    if (this.pending) {
      this.pending.attempts++;
      return this.pending.body;
    }
    const heartbeat = this.nextIsHeartbeat;
    this.seq++;
    const msg: AgentToServer = create(AgentToServerSchema, { instanceUid: this.uid, sequenceNum: this.seq, capabilities: BigInt(CAPABILITIES) });
    const full = this.needFull;
    const status = this.statusPending || full;
    if (full) {
      const s = this.spec;
      msg.agentDescription = {
        $typeName: 'opamp.proto.AgentDescription',
        identifyingAttributes: recordToAttributes({ 'service.name': 'nrdot-plus', 'service.instance.id': this.uidText, 'service.version': '0.1.0', 'host.id': `bench-${s.index}` }),
        nonIdentifyingAttributes: recordToAttributes({ 'host.name': s.hostName, 'os.type': 'linux', 'nrdot.fleet.labels.role': s.role, 'nrdot.fleet.labels.env': s.env }),
      };
      msg.health = create(ComponentHealthSchema, {
        healthy: true,
        status: 'running',
        startTimeUnixNano: this.startNs,
        statusTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
        attributes: recordToAttributes({ 'nrdot.profile': 'balanced', 'nrdot.profile.reason': 'configured default' }),
      });
      msg.customCapabilities = { $typeName: 'opamp.proto.CustomCapabilities', capabilities: [NRDOT_CAPABILITY] };
    }
    if (status) {
      const text = this.appliedConfig ? `${EFFECTIVE_CONFIG}# fleet layer ${this.appliedConfig}\n` : EFFECTIVE_CONFIG;
      msg.effectiveConfig = {
        $typeName: 'opamp.proto.EffectiveConfig',
        configMap: { $typeName: 'opamp.proto.AgentConfigMap', configMap: { 'effective.yaml': { $typeName: 'opamp.proto.AgentConfigFile', body: new TextEncoder().encode(text), contentType: 'text/yaml' } } },
      };
      if (this.appliedHash.length) {
        msg.remoteConfigStatus = { $typeName: 'opamp.proto.RemoteConfigStatus', lastRemoteConfigHash: this.appliedHash, status: OPAMP.APPLIED, errorMessage: '' };
      }
    }
    this.needFull = false;
    this.statusPending = false;
    this.pending = { body: encodeAgentToServer(msg), heartbeat, attempts: 1 };
    return this.pending.body;
  }

  /**
   * The message got no usable answer: it goes out again after `retryAfterMs` (the hub's Retry-After or
   * retry_info) or opamp-go's exponential backoff (0.5 s x 1.5^n, +-50%, at most 60 s).
   */
  failed(retryAfterMs?: number): Next {
    this.failures++;
    const backoff = Math.min(60_000, 500 * 1.5 ** (this.failures - 1)) * (0.5 + this.random());
    return { now: false, delayMs: retryAfterMs ?? backoff };
  }

  /**
   * The hub's answer. Returns what to do next, what went wrong (if anything) and the config applied
   * (if one arrived). `nowMs` is the time the reply was read.
   */
  onReply(body: Uint8Array, nowMs: number): { next: Next; problem: ReplyProblem | null; applied: Applied | null; fullStateAsked: boolean; retried?: boolean; newUid?: boolean } {
    let reply: ServerToAgent;
    try {
      reply = decodeServerToAgent(body);
    } catch {
      return { next: this.failed(), problem: 'bad_reply', applied: null, fullStateAsked: false };
    }
    if (Buffer.compare(Buffer.from(reply.instanceUid), Buffer.from(this.uid)) !== 0) {
      // A client drops a reply for another UID.
      return { next: this.failed(), problem: 'wrong_uid', applied: null, fullStateAsked: false };
    }
    const err = reply.errorResponse;
    if (err?.type === OPAMP.Unavailable) {
      // Not taken: the same message goes out again when the hub says.
      const retryNs = err.Details.case === 'retryInfo' ? err.Details.value.retryAfterNanoseconds : 0n;
      return { next: this.failed(retryNs > 0n ? Number(retryNs / 1_000_000n) : undefined), problem: 'unavailable', applied: null, fullStateAsked: false };
    }
    const retried = (this.pending?.attempts ?? 1) > 1;
    this.pending = null;
    this.failures = 0;
    if (err) {
      // BAD_REQUEST: sending the same again would not help; the next poll tells everything.
      this.needFull = true;
      return { next: { now: false, delayMs: this.pollDelayMs() }, problem: 'server_error', applied: null, fullStateAsked: false };
    }
    const newUid = reply.agentIdentification?.newInstanceUid;
    if (newUid && newUid.length === 16) {
      this.uid = new Uint8Array(newUid);
      this.uidText = uidToString(this.uid);
      this.needFull = true;
    }
    const offers = reply.connectionSettings;
    if (offers?.opamp && offers.opamp.heartbeatIntervalSeconds > 0n) this.heartbeatS = Number(offers.opamp.heartbeatIntervalSeconds);
    if (offers?.ownMetrics?.destinationEndpoint) {
      this.kpiUrl = offers.ownMetrics.destinationEndpoint;
      this.kpiHeaders = Object.fromEntries((offers.ownMetrics.headers?.headers ?? []).map((h) => [h.key, h.value]));
    }
    const fullStateAsked = (reply.flags & OPAMP.ReportFullState) !== 0n;
    if (fullStateAsked) this.needFull = true;
    let applied: Applied | null = null;
    const rc = reply.remoteConfig;
    if (rc && rc.configHash.length && Buffer.compare(Buffer.from(rc.configHash), Buffer.from(this.appliedHash)) !== 0) {
      // A real agent validates and reloads here; the benchmark measures the hub, so it applies at once.
      this.appliedHash = new Uint8Array(rc.configHash);
      this.appliedConfig++;
      this.statusPending = true;
      applied = { uid: this.uidText, role: this.spec.role, hash: Buffer.from(this.appliedHash).toString('hex'), atMs: nowMs };
    }
    const now = this.needFull || this.statusPending;
    return { next: { now, delayMs: now ? 0 : this.pollDelayMs() }, problem: null, applied, fullStateAsked, retried, newUid: newUid !== undefined && newUid.length === 16 };
  }

  /** The hash of the config in force, hex ('' before any). */
  get appliedHashHex(): string {
    return Buffer.from(this.appliedHash).toString('hex');
  }
}

const SHADOWS = ['emergency', 'minimal', 'aggressive', 'conservative'];

function gauge(name: string, unit: string, integer: boolean, value: number, attributes?: Record<string, string>): Metric {
  return { name, unit, description: '', kind: 'gauge', monotonic: false, integer, points: [{ attributes: attributes ?? {}, value }] };
}

/**
 * One ExportMetricsServiceRequest (protobuf) with an agent's KPIs for one interval, named as the agent
 * names them, `service.instance.id` = its instance UID. The figures wobble a little from call to call.
 */
export function kpiRequest(agent: SimAgent, timestampS: number, random: () => number = Math.random): Uint8Array {
  const baselineSeries = 3000 + (agent.spec.index % 500) * 10;
  const kept = Math.round(baselineSeries * (0.25 + 0.05 * random()));
  const costBaseline = baselineSeries * 0.0000012;
  const costOptimized = (costBaseline * kept) / baselineSeries;
  const metrics: Metric[] = [
    {
      name: 'nrdot.estimated.cost_per_hour',
      unit: '{USD}/h',
      description: '',
      kind: 'gauge',
      monotonic: false,
      integer: false,
      points: [
        { attributes: { kind: 'baseline' }, value: costBaseline },
        { attributes: { kind: 'optimized' }, value: costOptimized },
      ],
    },
    gauge('nrdot.process.series.baseline', '{series}', true, baselineSeries),
    gauge('nrdot.process.series.kept', '{series}', true, kept),
    gauge('nrdot.optimization.reduction', '1', false, 1 - kept / baselineSeries),
    gauge('nrdot.process.coverage.critical', '1', false, 1),
    gauge('nrdot.profile.active', '1', true, 1, { 'nrdot.profile': 'balanced' }),
    gauge('nrdot.agent.cpu.utilization', '1', false, 0.004 + 0.004 * random()),
    gauge('nrdot.agent.memory.rss', 'By', true, Math.round(85e6 + 5e6 * random())),
    {
      name: 'nrdot.hub.datapoints',
      unit: '{datapoint}',
      description: '',
      kind: 'gauge',
      monotonic: false,
      integer: true,
      points: [
        { attributes: { kind: 'baseline' }, value: baselineSeries * 6 },
        { attributes: { kind: 'exported' }, value: kept * 6 },
      ],
    },
    gauge('nrdot.hub.visibility', '1', false, 0.7 + 0.1 * random()),
    {
      // The default shadow profiles: every built-in one but the active one.
      name: 'nrdot.hub.shadow.cost_per_hour',
      unit: '{USD}/h',
      description: '',
      kind: 'gauge',
      monotonic: false,
      integer: false,
      points: SHADOWS.map((p, i) => ({ attributes: { 'nrdot.profile': p }, value: costBaseline * (0.15 + 0.2 * i) })),
    },
  ];
  const resource: ResourceSeries = {
    kind: 'self',
    attributes: { 'service.name': 'nrdot-plus', 'service.instance.id': agent.uidText, 'host.name': agent.spec.hostName },
    metrics,
  };
  return encodeProtobuf([resource], { timestamp: timestampS, intervalStart: timestampS - 60, resources: [resource] }, 'delta');
}
