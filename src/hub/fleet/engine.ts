// The fleet logic of the OpAMP server: one AgentToServer in, one ServerToAgent out, whatever
// the transport (src/hub/opamp calls it through OpampHandlers). What it stores and sends, and
// the notifications it listens to, are in README.md.
import {
  AgentCapabilities,
  AgentConfigFileSchema,
  AgentConfigMapSchema,
  AgentIdentificationSchema,
  AgentRemoteConfigSchema,
  AgentToServerFlags,
  CustomCapabilitiesSchema,
  ServerCapabilities,
  ServerToAgentFlags,
  ServerToAgentSchema,
  attributesToRecord,
  create,
  uidToString,
  type AgentConfigFile,
  type AgentToServer,
  type ServerToAgent,
} from '../../fleet/codec.js';
import { NRDOT_CAPABILITY } from '../../fleet/directives.js';
import { uuidv7 } from '../../fleet/uuid.js';
import type { HubContext } from '../context.js';
import type { OpampMetrics } from '../opamp/metrics.js';
import { BadRequestError, type OpampConnection, type OpampHandlers } from '../opamp/connection.js';
import type { AgentPatch, AgentRecord } from '../store/types.js';
import { FleetCache } from './cache.js';
import { CloneTracker } from './clones.js';
import { desiredState, type DesiredExtra } from './desired.js';
import { connectionOffers } from './offers.js';
import { RequestRelay } from './relay.js';
import { identityDiffers, identityOf, isPureHeartbeat, observedInterval, patchFromReport } from './report.js';
import { SeenBatcher } from './seen.js';

export const SERVER_CAPABILITIES = BigInt(
  ServerCapabilities.ServerCapabilities_AcceptsStatus |
    ServerCapabilities.ServerCapabilities_OffersRemoteConfig |
    ServerCapabilities.ServerCapabilities_AcceptsEffectiveConfig |
    ServerCapabilities.ServerCapabilities_OffersConnectionSettings,
);
const REPORT_FULL_STATE = BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState);
const REQUEST_UID = BigInt(AgentToServerFlags.AgentToServerFlags_RequestInstanceUid);
/** How long a replica trusts its own copy of an agent's record before reading it again. */
const RECORD_TTL_MS = 5 * 60_000;

/** Notification payloads (store.notify / onNotify), documented in README.md. */
export const NOTIFY_ALL_AGENTS = 'agents:*';
export const NOTIFY_AGENT_PREFIX = 'agent:';

/** Seams for the rollouts and experiments of the next issues. */
export interface EngineHooks {
  /** True while the agent is in a running rollout phase: it is offered settings.phaseHeartbeatSeconds. */
  inRunningPhase?(agent: AgentRecord): boolean;
  /** The rollout / experiment that owns the agent, for its directives file. */
  desiredExtra?(agent: AgentRecord): DesiredExtra;
}

export interface EngineOptions {
  /** How often the offline sweep runs (where this replica holds leadership); default 5 s. */
  sweepMs?: number;
  /** How long heartbeats wait to be written in one batch; default 1 s. */
  seenFlushMs?: number;
  /** Time-to-live of the cached fleet configs and pins; default 15 s. */
  cacheTtlMs?: number;
  hooks?: EngineHooks;
}

function blankRecord(uid: string, nowMs: number): AgentRecord {
  return {
    instanceUid: uid, kind: 'other', firstSeenMs: nowMs, lastSeenMs: nowMs, lastSequenceNum: 0, status: 'online',
    offlineSinceMs: null, observedIntervalSeconds: null, transport: null, replica: null, description: null, labels: {},
    version: null, hostName: null, capabilities: 0, customCapabilities: [], health: null, effectiveConfig: null,
    remoteConfigStatus: null, sentConfigHash: null, offeredSettingsHash: null, profile: null, profileReason: null, kpis: null,
  };
}

export class FleetEngine implements OpampHandlers {
  readonly cache: FleetCache;
  readonly relay: RequestRelay;
  private readonly seen: SeenBatcher;
  private readonly clones = new CloneTracker();
  private readonly ws = new Map<string, OpampConnection>();
  /** Agents' records as this replica last wrote them, so that a heartbeat costs no read (see record()). */
  private readonly records = new Map<string, { rec: AgentRecord; atMs: number }>();
  private readonly connUid = new Map<number, string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private stopped = false;
  private hooks: EngineHooks;

  constructor(
    private readonly ctx: HubContext,
    private readonly metrics: OpampMetrics,
    private readonly opts: EngineOptions = {},
  ) {
    this.cache = new FleetCache(ctx.store, ctx.now, opts.cacheTtlMs ?? 15_000);
    this.seen = new SeenBatcher(ctx.store, ctx.log, opts.seenFlushMs ?? 1000);
    this.relay = new RequestRelay(ctx.store, ctx.log);
    this.hooks = opts.hooks ?? {};
  }

  /** Rollouts (issue 14) plug in here once they exist. */
  setHooks(hooks: EngineHooks): void {
    this.hooks = hooks;
  }

  async start(): Promise<void> {
    this.ctx.store.onNotify((payload) => this.notified(payload));
    // Warm the cache; a store not migrated yet (the hub still starting) loads it at first use.
    await this.cache.get().catch((err: unknown) => this.ctx.log.debug({ err }, 'fleet configs not loaded yet'));
    const every = this.opts.sweepMs ?? 5000;
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.seen.flush();
  }

  /** The heartbeat offered to an agent: short while someone looks at it or a rollout phase runs. */
  heartbeatFor(agent: AgentRecord, nowMs: number): number {
    const s = this.ctx.settings;
    let seconds = s.heartbeatSeconds;
    if (this.hooks.inRunningPhase?.(agent)) seconds = Math.min(seconds, s.phaseHeartbeatSeconds);
    if (this.relay.watching(agent.instanceUid, nowMs)) seconds = Math.min(seconds, s.watchHeartbeatSeconds);
    return seconds;
  }

  /** Agents holding a WebSocket to this replica. */
  get connectedAgents(): number {
    return this.ws.size;
  }

  async onMessage(conn: OpampConnection, msg: AgentToServer): Promise<ServerToAgent> {
    const { store } = this.ctx;
    const now = this.ctx.now();
    const reply = create(ServerToAgentSchema, { instanceUid: msg.instanceUid, capabilities: SERVER_CAPABILITIES });
    let uidBytes = msg.instanceUid;
    let assigned = uidBytes.length === 0 || (msg.flags & REQUEST_UID) !== 0n;
    if (assigned) uidBytes = uuidv7(now);
    else if (uidBytes.length !== 16) throw new BadRequestError(`instance_uid is ${uidBytes.length} bytes; OpAMP requires 16`);
    let uid = uidToString(uidBytes);
    const seq = Number(msg.sequenceNum);
    let rec = assigned ? null : await this.record(uid, Number(msg.sequenceNum), msg.agentDescription !== undefined);

    if (!assigned) {
      const newUid = await this.cloneCheck(uid, rec, msg, seq, now, conn);
      if (newUid) {
        uidBytes = newUid;
        uid = uidToString(newUid);
        rec = null;
        assigned = true;
      }
    }
    if (assigned) reply.agentIdentification = create(AgentIdentificationSchema, { newInstanceUid: uidBytes });
    if (conn.transport === 'ws') this.bind(uid, conn);

    if (msg.agentDisconnect) {
      this.seen.drop(uid);
      this.records.delete(uid);
      if (rec) await store.upsertAgent(uid, { status: 'offline', offlineSinceMs: now, lastSeenMs: now, lastSequenceNum: seq, replica: null }, now);
      this.unbind(conn);
      return reply;
    }

    const full = msg.agentDescription !== undefined;
    const needFull = !full && (!rec || (seq !== rec.lastSequenceNum + 1 && seq !== rec.lastSequenceNum));
    if (needFull) reply.flags |= REPORT_FULL_STATE;

    const patch = patchFromReport(msg, rec);
    if (!rec || rec.status !== 'online') Object.assign(patch, { status: 'online', offlineSinceMs: null });
    if (!rec || rec.transport !== conn.transport) patch.transport = conn.transport;
    const replica = conn.transport === 'ws' ? this.ctx.replicaId : null;
    if (!rec || rec.replica !== replica) patch.replica = replica;
    let observed = observedInterval(rec?.observedIntervalSeconds ?? null, rec ? now - rec.lastSeenMs : null, isPureHeartbeat(msg));
    const agent: AgentRecord = { ...(rec ?? blankRecord(uid, now)), ...patch, lastSeenMs: now, lastSequenceNum: seq, observedIntervalSeconds: observed };

    if (msg.customMessage) await this.relay.received(uid, msg.customMessage, now);
    if (full && agent.kind === 'nrdot') reply.customCapabilities = create(CustomCapabilitiesSchema, { capabilities: [NRDOT_CAPABILITY] });
    // Until the agent has described itself, selectors cannot place it: offers and config wait
    // for the full report it was just asked for.
    if (agent.description) {
      const offered = await this.compose(agent, conn, reply, patch, now, full);
      // An agent told to slow down must not look offline before its first slower heartbeat.
      const follows = (agent.capabilities & AgentCapabilities.AgentCapabilities_ReportsHeartbeat) !== 0;
      if (follows && offered !== null && observed !== null && offered > observed) observed = offered;
    }

    if (rec && Object.keys(patch).length === 0) {
      this.seen.add({ instanceUid: uid, lastSeenMs: now, lastSequenceNum: seq, observedIntervalSeconds: observed });
      this.metrics.pendingSeen = this.seen.size;
    } else {
      this.seen.drop(uid);
      await store.upsertAgent(uid, { ...patch, lastSeenMs: now, lastSequenceNum: seq, observedIntervalSeconds: observed }, now);
    }
    this.remember({ ...agent, ...patch, lastSeenMs: now, lastSequenceNum: seq, observedIntervalSeconds: observed, status: 'online', offlineSinceMs: null }, now);
    if (conn.transport === 'ws' && this.relay.hasMore(uid)) setImmediate(() => void this.push(uid));
    this.metrics.pendingMessages = this.relay.backlog;
    return reply;
  }

  /**
   * The agent's record for a message with this sequence number. A heartbeat that follows what this
   * replica last saw of the agent is served from memory: no read per heartbeat. The database is read
   * when this replica has no record of it, or an older one than `RECORD_TTL_MS`, or the message does
   * not follow it (the agent was served by another replica meanwhile), or it is a full report.
   * What others change meanwhile cannot be lost: heartbeats are written as partial updates (which
   * also bring an agent marked offline back online), a forgotten agent is dropped by its
   * notification (and by the TTL if that is lost), and whatever else is stale only makes the hub
   * send a config or offer once more.
   */
  private async record(uid: string, seq: number, full: boolean): Promise<AgentRecord | null> {
    const now = this.ctx.now();
    const cached = this.records.get(uid);
    if (cached && !full && now - cached.atMs < RECORD_TTL_MS && seq === cached.rec.lastSequenceNum + 1) return this.seen.overlay(cached.rec);
    this.records.delete(uid);
    return this.seen.overlay(await this.ctx.store.getAgent(uid));
  }

  /** Keeps what the heartbeat path reads: not the effective config or KPIs, the bulk of a record. */
  private remember(rec: AgentRecord, now: number): void {
    const previous = this.records.get(rec.instanceUid);
    this.records.set(rec.instanceUid, { rec: { ...rec, effectiveConfig: null, kpis: null }, atMs: previous && now - previous.atMs < RECORD_TTL_MS ? previous.atMs : now });
  }

  onConnectionClose(conn: OpampConnection): void {
    const uid = this.unbind(conn);
    // Another connection of this agent here (it reconnected before the old one timed out) keeps it.
    if (!uid || this.stopped || this.ws.has(uid)) return;
    // The agent may already be on another replica: clear `replica` only if it still names us.
    void (async () => {
      const rec = await this.ctx.store.getAgent(uid);
      if (rec?.replica === this.ctx.replicaId) await this.ctx.store.upsertAgent(uid, { replica: null }, this.ctx.now());
    })().catch((err: unknown) => this.ctx.log.warn({ err, agent: uid }, 'could not record a closed WebSocket'));
  }

  /**
   * Adds to `reply` what the agent should get now: connection offers (when asked for a full
   * state or changed), its remote config (when its reported hash is not the desired one) and
   * one pending request. Returns the heartbeat offered, or null when no offer went out.
   */
  private async compose(agent: AgentRecord, conn: OpampConnection, reply: ServerToAgent, patch: AgentPatch, now: number, full: boolean): Promise<number | null> {
    let offeredHeartbeat: number | null = null;
    const heartbeat = this.heartbeatFor(agent, now);
    const base = (this.ctx.settings.publicUrl ?? conn.origin).replace(/\/+$/, '');
    const endpoint = base.endsWith('/v1/metrics') ? base : `${base}/v1/metrics`;
    const offer = connectionOffers(heartbeat, endpoint, agent.capabilities, this.ctx.settings.agentSecret);
    if (full || offer.hash !== agent.offeredSettingsHash) {
      reply.connectionSettings = offer.offers;
      if (agent.offeredSettingsHash !== offer.hash) patch.offeredSettingsHash = offer.hash;
      offeredHeartbeat = heartbeat;
    }

    if ((agent.capabilities & AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) !== 0) {
      const snap = await this.cache.get();
      const ds = desiredState(agent, snap.configs, snap.pins, now, this.hooks.desiredExtra?.(agent));
      const reported = agent.remoteConfigStatus?.hash ?? '';
      // An agent nothing was ever meant for keeps its own config: no empty config map for it.
      const nothingEver = Object.keys(ds.configMap).length === 0 && !agent.sentConfigHash && reported === '';
      const reportsStatus = (agent.capabilities & AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) !== 0;
      // Agents that report status get it until they report its hash (a lost reply heals at the
      // next poll); others get each new config once, and again with a full state report.
      if (!nothingEver && ds.hash !== reported && (full || reportsStatus || agent.sentConfigHash !== ds.hash)) {
        const configMap: Record<string, AgentConfigFile> = {};
        for (const [name, f] of Object.entries(ds.configMap)) {
          configMap[name] = create(AgentConfigFileSchema, { body: new Uint8Array(Buffer.from(f.body, 'utf8')), contentType: f.contentType });
        }
        reply.remoteConfig = create(AgentRemoteConfigSchema, {
          config: create(AgentConfigMapSchema, { configMap }),
          configHash: new Uint8Array(Buffer.from(ds.hash, 'hex')),
        });
        if (agent.sentConfigHash !== ds.hash) patch.sentConfigHash = ds.hash;
        this.metrics.remoteConfigsSent++;
      }
    }

    if (agent.customCapabilities.includes(NRDOT_CAPABILITY)) {
      const request = await this.relay.next(agent.instanceUid, now);
      if (request) reply.customMessage = request;
    }
    return offeredHeartbeat;
  }

  /** A clone gets a new UID (returned); the original keeps its own. */
  private async cloneCheck(uid: string, rec: AgentRecord | null, msg: AgentToServer, seq: number, now: number, conn: OpampConnection): Promise<Uint8Array | null> {
    const interval = Math.max(rec?.observedIntervalSeconds ?? 0, this.ctx.settings.heartbeatSeconds);
    const aliveMs = 2 * interval * 1000;
    let reason: string | null = this.clones.observe(uid, seq, now, aliveMs) ? 'sequence numbers interleave with another connection' : null;
    if (!reason && rec?.description && msg.agentDescription && rec.status === 'online' && now - rec.lastSeenMs < aliveMs) {
      const incoming = identityOf({
        identifying: attributesToRecord(msg.agentDescription.identifyingAttributes),
        nonIdentifying: attributesToRecord(msg.agentDescription.nonIdentifyingAttributes),
      });
      const stored = identityOf(rec.description);
      if (identityDiffers(incoming, stored, rec.lastSeenMs)) {
        reason = `host or boot differs from the online agent (host.id ${stored.hostId ?? '?'} -> ${incoming.hostId ?? '?'}, boot ${stored.bootId ?? '?'} -> ${incoming.bootId ?? '?'})`;
      }
    }
    if (!reason) return null;
    const fresh = uuidv7(now);
    const newUid = uidToString(fresh);
    this.metrics.clones++;
    this.ctx.log.warn({ agent: uid, newInstanceUid: newUid, remote: conn.remoteAddress }, `clone of agent ${uid}: ${reason}; it gets a new instance UID`);
    await this.ctx.store.appendJournal({
      timeMs: now,
      actor: 'hub',
      action: 'agent.clone',
      target: uid,
      details: { newInstanceUid: newUid, reason, remoteAddress: conn.remoteAddress, transport: conn.transport },
    });
    return fresh;
  }

  private bind(uid: string, conn: OpampConnection): void {
    const old = this.connUid.get(conn.id);
    if (old === uid) return;
    if (old !== undefined && this.ws.get(old) === conn) this.ws.delete(old);
    this.connUid.set(conn.id, uid);
    this.ws.set(uid, conn);
  }

  private unbind(conn: OpampConnection): string | undefined {
    const uid = this.connUid.get(conn.id);
    this.connUid.delete(conn.id);
    if (uid !== undefined && this.ws.get(uid) === conn) this.ws.delete(uid);
    return uid;
  }

  private notified(payload: string): void {
    if (payload === NOTIFY_ALL_AGENTS) {
      this.cache.invalidate();
      for (const uid of [...this.ws.keys()]) void this.push(uid);
    } else if (payload.startsWith(NOTIFY_AGENT_PREFIX)) {
      const uid = payload.slice(NOTIFY_AGENT_PREFIX.length);
      this.records.delete(uid);
      this.relay.notified(uid);
      if (this.ws.has(uid)) void this.push(uid);
    }
  }

  /** Sends a connected WebSocket agent what changed for it, without waiting for its message. */
  async push(uid: string): Promise<void> {
    const conn = this.ws.get(uid);
    if (!conn || this.stopped) return;
    try {
      const now = this.ctx.now();
      const rec = this.seen.overlay(await this.ctx.store.getAgent(uid));
      if (!rec?.description) return;
      const reply = create(ServerToAgentSchema, { instanceUid: new Uint8Array(Buffer.from(uid.replace(/-/g, ''), 'hex')) });
      const patch: AgentPatch = {};
      await this.compose(rec, conn, reply, patch, now, false);
      if (!reply.remoteConfig && !reply.connectionSettings && !reply.customMessage) return;
      if (Object.keys(patch).length > 0) await this.ctx.store.upsertAgent(uid, patch, now);
      if (conn.send(reply)) this.metrics.pushes++;
      if (this.relay.hasMore(uid)) setImmediate(() => void this.push(uid));
    } catch (err) {
      this.ctx.log.warn({ err, agent: uid }, 'could not push to a connected agent; it gets the change at its next message');
    }
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      this.metrics.pendingSeen = this.seen.size;
      this.metrics.pendingMessages = this.relay.backlog;
      this.relay.setPendingAnywhere(await this.ctx.store.pendingRequestCount());
      if (!(await this.ctx.store.tryLeadership())) return;
      await this.seen.flush();
      const gone = await this.ctx.store.markOffline(this.ctx.now(), this.ctx.settings.heartbeatSeconds);
      this.metrics.markedOffline += gone.length;
      if (gone.length > 0) this.ctx.log.info({ agents: gone.length }, `${gone.length} agent(s) offline after missing 3 heartbeats`);
    } catch (err) {
      this.ctx.log.warn({ err }, 'offline sweep failed; retried at the next one');
    } finally {
      this.sweeping = false;
    }
  }
}
