/**
 * The agent's OpAMP client: plain HTTP polling by default (the poll interval is the heartbeat the
 * server offers, 30 s until it does, jittered by 10%), WebSocket for ws:// and wss:// endpoints.
 *
 * - Sequence numbers from 1; the first message after start (and after ReportFullState) carries the
 *   full state: description, capabilities, health, effective config, remote config status, custom
 *   capabilities. Later ones carry only what changed since the server last acknowledged it (a failed
 *   exchange sends it again).
 * - A reply for another instance_uid is dropped. agent_identification.new_instance_uid is adopted.
 * - error_response UNAVAILABLE with retry_info, or a 429/503 with Retry-After: the client waits that
 *   long. Connection refused, timeouts, 5xx, garbage: exponential backoff with jitter, capped.
 * - One exchange in flight at a time; every wait is a timer, so the agent's collection and export
 *   never wait on the hub. A change (a remote config applied, a custom message answered, health)
 *   goes out at once, not after a heartbeat.
 */
import { create } from '@bufbuild/protobuf';
import {
  AgentConfigFileSchema,
  AgentDescriptionSchema,
  AgentConfigMapSchema,
  AgentDisconnectSchema,
  AgentToServerSchema,
  ComponentHealthSchema,
  CustomCapabilitiesSchema,
  CustomMessageSchema,
  EffectiveConfigSchema,
  RemoteConfigStatusSchema,
  ServerErrorResponseType,
  ServerToAgentFlags,
  decodeServerToAgent,
  encodeAgentToServer,
  recordToAttributes,
  uidToString,
  type AgentDescription,
  type AgentToServer,
  type AttributeValue,
  type ComponentHealth,
  type CustomMessage,
  type EffectiveConfig,
  type RemoteConfigStatus,
  type RemoteConfigStatuses,
  type ServerToAgent,
} from '../codec.js';
import { ExchangeError, HttpPoster } from './http.js';
import { Sleeper } from './sleeper.js';
import type { ClientOptions, ConnectionState, TelemetryOffer } from './types.js';
import type { WsConnection } from './ws.js';

const DEFAULTS = { heartbeatSeconds: 30, requestTimeoutMs: 15_000, maxResponseBytes: 4 << 20, backoffInitialMs: 1000, backoffMaxMs: 300_000, maxRetryAfterMs: 3_600_000 };
/** Custom messages waiting to go out (answers to the hub's requests): beyond this the oldest is dropped. */
const MAX_PENDING_CUSTOM = 16;
/**
 * Messages sent at once, one after the other, before the client waits a heartbeat anyway: a server
 * that asks for the full state in every answer must not make the agent spin.
 */
const MAX_IMMEDIATE = 4;
/** How long stop() gives the AgentDisconnect message. */
const DISCONNECT_TIMEOUT_MS = 2000;

type Field = 'description' | 'health' | 'effectiveConfig' | 'remoteConfigStatus';

/** What one answer tells the loop: wait `retryMs` (a server's retry_info), or carry on. */
interface Handled {
  retryMs: number | null;
}

export class OpampClient {
  private readonly o: Required<Omit<ClientOptions, 'heartbeatSeconds'>> & { heartbeatSeconds: number };
  private uid: Uint8Array;
  private seq = 0n;
  private fullState = true;
  private readonly values: { description: AgentDescription | null; health: ComponentHealth | null; effectiveConfig: EffectiveConfig | null; remoteConfigStatus: RemoteConfigStatus | null } = {
    description: null,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
  };
  /** Each field's version, and the version the server acknowledged. */
  private readonly version: Record<Field, number> = { description: 0, health: 0, effectiveConfig: 0, remoteConfigStatus: 0 };
  private readonly acked: Record<Field, number> = { description: 0, health: 0, effectiveConfig: 0, remoteConfigStatus: 0 };
  private readonly custom: CustomMessage[] = [];
  private readonly sleeper = new Sleeper();
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly inFlight = new AbortController();
  private poster: HttpPoster | null = null;
  private ws: WsConnection | null = null;
  private lastOffer = '';
  private startedAt = BigInt(Date.now()) * 1_000_000n;
  readonly state: ConnectionState;
  /** Replies dropped because they named another instance_uid. */
  droppedReplies = 0;

  constructor(options: ClientOptions) {
    this.o = { ...DEFAULTS, random: Math.random, ...options } as OpampClient['o'];
    this.uid = options.instanceUid;
    const transport = /^wss?:/i.test(options.endpoint) ? 'websocket' : 'http';
    this.state = { transport, connected: false, lastContact: null, lastError: null, failures: 0, heartbeatSeconds: this.o.heartbeatSeconds, nextAttemptAt: null, messagesSent: 0 };
  }

  get instanceUid(): Uint8Array {
    return this.uid;
  }

  // ---- What the agent reports (each change goes out in the next message, at once) ----

  setDescription(identifying: Record<string, AttributeValue>, nonIdentifying: Record<string, AttributeValue>): void {
    this.set('description', create(AgentDescriptionSchema, { identifyingAttributes: recordToAttributes(identifying), nonIdentifyingAttributes: recordToAttributes(nonIdentifying) }));
  }

  setHealth(h: { healthy: boolean; status: string; lastError?: string; attributes?: Record<string, AttributeValue> }): void {
    this.set(
      'health',
      create(ComponentHealthSchema, {
        healthy: h.healthy,
        status: h.status,
        lastError: h.lastError ?? '',
        startTimeUnixNano: this.startedAt,
        statusTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
        attributes: recordToAttributes(h.attributes ?? {}),
      }),
    );
  }

  /** The effective configuration: file name -> YAML text (redacted by the caller). */
  setEffectiveConfig(files: Record<string, string>): void {
    const configMap = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, create(AgentConfigFileSchema, { body: new TextEncoder().encode(text), contentType: 'text/yaml' })]));
    this.set('effectiveConfig', create(EffectiveConfigSchema, { configMap: create(AgentConfigMapSchema, { configMap }) }));
  }

  setRemoteConfigStatus(hash: Uint8Array, status: RemoteConfigStatuses, errorMessage = ''): void {
    this.set('remoteConfigStatus', create(RemoteConfigStatusSchema, { lastRemoteConfigHash: hash, status, errorMessage }));
  }

  /** Queues a custom message (an answer to the hub's request) for the next message, sent at once. */
  sendCustomMessage(capability: string, type: string, data: Uint8Array): void {
    if (this.custom.length >= MAX_PENDING_CUSTOM) this.custom.shift();
    this.custom.push(create(CustomMessageSchema, { capability, type, data }));
    this.sleeper.wake();
  }

  private set(field: Field, value: AgentDescription | ComponentHealth | EffectiveConfig | RemoteConfigStatus): void {
    (this.values as Record<Field, unknown>)[field] = value;
    this.version[field]++;
    this.sleeper.wake();
  }

  private pending(): boolean {
    return this.fullState || this.custom.length > 0 || (Object.keys(this.version) as Field[]).some((f) => this.version[f] !== this.acked[f]);
  }

  // ---- Running ----

  start(): void {
    this.loop ??= this.state.transport === 'http' ? this.runHttp() : this.runWs();
  }

  /** Stops polling; tells the server with AgentDisconnect (bounded); resolves when done. */
  async stop(): Promise<void> {
    if (this.stopped) return this.loop ?? undefined;
    this.stopped = true;
    this.sleeper.wake(true);
    const grace = setTimeout(() => this.inFlight.abort(), DISCONNECT_TIMEOUT_MS);
    // A WebSocket still opening has no request to abort: the loop gets the same grace, no more.
    await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, DISCONNECT_TIMEOUT_MS + 100).unref())]);
    clearTimeout(grace);
    const bye = this.build();
    bye.agentDisconnect = create(AgentDisconnectSchema, {});
    try {
      if (this.poster && this.state.connected) await this.poster.post(this.headers(), encodeAgentToServer(bye), DISCONNECT_TIMEOUT_MS, this.o.maxResponseBytes);
      else if (this.ws?.open) await this.ws.sendAndClose(encodeAgentToServer(bye), DISCONNECT_TIMEOUT_MS);
    } catch {
      // the server learns it from the silence
    }
    this.poster?.close();
    this.ws?.close();
    this.state.connected = false;
    this.state.nextAttemptAt = null;
  }

  private async runHttp(): Promise<void> {
    this.poster = new HttpPoster(new URL(this.o.endpoint), this.o.tls);
    let immediate = 0;
    while (!this.stopped) {
      let wait: number;
      let urgent = false;
      const msg = this.build();
      const marks = { ...this.version };
      try {
        const answer = await this.poster.post(this.headers(), encodeAgentToServer(msg), this.o.requestTimeoutMs, this.o.maxResponseBytes, this.inFlight.signal);
        this.state.messagesSent++;
        if (answer.status !== 200) {
          this.requeue(msg);
          if (answer.retryAfterMs !== null) {
            wait = this.bounded(answer.retryAfterMs);
            this.failed(`HTTP ${answer.status}; retrying after ${Math.round(wait / 1000)} s as the server asks`);
          } else wait = this.failed(`HTTP ${answer.status}${answer.body.length ? `: ${printable(answer.body)}` : ''}`);
        } else {
          const handled = this.handle(this.decode(answer.body), msg, marks);
          if (handled.retryMs !== null) wait = handled.retryMs;
          else {
            wait = this.heartbeatMs();
            urgent = true;
          }
        }
      } catch (err) {
        this.requeue(msg);
        if (this.stopped) break;
        wait = this.failed((err as Error).message);
      }
      // Something to say (a status, an answer to a request, full state asked for): at once.
      if (urgent && this.pending() && immediate < MAX_IMMEDIATE) {
        immediate++;
        continue;
      }
      immediate = 0;
      this.state.nextAttemptAt = Date.now() + wait;
      await this.sleeper.sleep(wait, urgent);
      this.state.nextAttemptAt = null;
    }
  }

  /** A message that did not get through: its custom message goes in the next one. */
  private requeue(msg: AgentToServer): void {
    if (msg.customMessage && !this.custom.includes(msg.customMessage)) this.custom.unshift(msg.customMessage);
  }

  private async runWs(): Promise<void> {
    while (!this.stopped) {
      let wait: number;
      try {
        wait = await this.wsSession();
      } catch (err) {
        if (this.stopped) break;
        wait = this.failed((err as Error).message);
      }
      if (this.stopped) break;
      this.state.nextAttemptAt = Date.now() + wait;
      await this.sleeper.sleep(wait, false);
      this.state.nextAttemptAt = null;
    }
  }

  /**
   * One WebSocket connection: full state first, then changes (once the previous message is answered)
   * and heartbeats, until it closes. Returns the wait before reconnecting.
   */
  private async wsSession(): Promise<number> {
    this.fullState = true;
    let retry: number | null = null;
    let failure: string | null = null;
    let sent: { msg: AgentToServer; marks: Record<Field, number> } | null = null;
    // The WebSocket library loads only for a ws:// or wss:// endpoint.
    const { WsConnection } = await import('./ws.js');
    const ws = await WsConnection.open(this.o.endpoint, this.headers(), this.o.tls, this.o.requestTimeoutMs, this.o.maxResponseBytes, (data) => {
      const last = sent;
      sent = null;
      try {
        const handled = this.handle(this.decode(data), last?.msg ?? null, last?.marks ?? null);
        if (handled.retryMs !== null) {
          retry = handled.retryMs;
          ws.close();
        }
      } catch (err) {
        failure = (err as Error).message;
        ws.close();
      }
      this.sleeper.wake();
    }, this.inFlight.signal);
    this.ws = ws;
    ws.onClose = () => this.sleeper.wake();
    let nextHeartbeat = 0;
    let immediate = 0;
    while (!this.stopped && ws.open) {
      const now = Date.now();
      const due = now >= nextHeartbeat;
      if (due || (sent === null && this.pending() && immediate < MAX_IMMEDIATE)) {
        immediate = due ? 0 : immediate + 1;
        if (sent) this.requeue((sent as { msg: AgentToServer }).msg);
        const msg = this.build();
        sent = { msg, marks: { ...this.version } };
        ws.send(encodeAgentToServer(msg));
        this.state.messagesSent++;
        nextHeartbeat = now + this.heartbeatMs();
      }
      await this.sleeper.sleep(nextHeartbeat - Date.now(), true);
    }
    if (sent) this.requeue((sent as { msg: AgentToServer }).msg);
    if (this.stopped) return 0;
    if (retry !== null) return retry;
    return this.failed(failure ?? ws.closeReason ?? 'connection closed');
  }

  private decode(body: Uint8Array): ServerToAgent {
    try {
      return decodeServerToAgent(body);
    } catch {
      throw new ExchangeError(`the server's answer is not an OpAMP ServerToAgent message (${body.length} bytes)`);
    }
  }

  /** The next message: sequence number, capabilities, and what is new (everything for full state). */
  private build(): AgentToServer {
    const msg = create(AgentToServerSchema, { instanceUid: this.uid, sequenceNum: ++this.seq, capabilities: this.o.capabilities });
    const due = (f: Field): boolean => this.fullState || this.version[f] !== this.acked[f];
    if (due('description') && this.values.description) msg.agentDescription = this.values.description;
    if (due('health') && this.values.health) msg.health = this.values.health;
    if (due('effectiveConfig') && this.values.effectiveConfig) msg.effectiveConfig = this.values.effectiveConfig;
    if (due('remoteConfigStatus') && this.values.remoteConfigStatus) msg.remoteConfigStatus = this.values.remoteConfigStatus;
    if (this.fullState && this.o.customCapabilities.length) msg.customCapabilities = create(CustomCapabilitiesSchema, { capabilities: this.o.customCapabilities });
    const custom = this.custom.shift();
    if (custom) msg.customMessage = custom;
    return msg;
  }

  /** Handles one answer to `sent` (whose field versions were `marks`). Throws on a reply for another agent. */
  private handle(reply: ServerToAgent, sent: AgentToServer | null, marks: Record<Field, number> | null): Handled {
    if (reply.instanceUid.length > 0 && !sameBytes(reply.instanceUid, this.uid)) {
      this.droppedReplies++;
      if (sent?.customMessage) this.custom.unshift(sent.customMessage);
      throw new ExchangeError(`dropped a reply for another instance_uid (${uidToString(reply.instanceUid)}; this agent is ${uidToString(this.uid)})`);
    }
    const err = reply.errorResponse;
    if (err) {
      if (sent?.customMessage) this.custom.unshift(sent.customMessage);
      if (err.type === ServerErrorResponseType.ServerErrorResponseType_Unavailable && err.Details.case === 'retryInfo') {
        const ms = this.bounded(Number(err.Details.value.retryAfterNanoseconds / 1_000_000n));
        this.failed(`server unavailable${err.errorMessage ? ` (${err.errorMessage})` : ''}; retrying after ${Math.round(ms / 1000)} s as it asks`);
        return { retryMs: ms };
      }
      return { retryMs: this.failed(`server error: ${err.errorMessage || ServerErrorResponseType[err.type]}`) };
    }
    this.recovered();
    if (marks) {
      for (const f of Object.keys(marks) as Field[]) this.acked[f] = Math.max(this.acked[f], marks[f]);
      this.fullState = false;
    }
    if ((reply.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState)) !== 0n) this.fullState = true;
    const id = reply.agentIdentification?.newInstanceUid;
    if (id && id.length === 16 && !sameBytes(id, this.uid)) {
      this.o.log.info({ instance_uid: uidToString(id), previous: uidToString(this.uid) }, `the hub gave this agent a new instance UID ${uidToString(id)} (was ${uidToString(this.uid)})`);
      this.uid = new Uint8Array(id);
      this.fullState = true;
      this.o.hooks.onNewInstanceUid(this.uid);
    }
    const offers = reply.connectionSettings;
    const hb = offers?.opamp?.heartbeatIntervalSeconds;
    if (hb !== undefined && hb > 0n) this.state.heartbeatSeconds = Math.min(86_400, Math.max(1, Number(hb)));
    // An offer without own_metrics leaves the destination as it was (the specification); one with an empty endpoint withdraws it.
    const m = offers?.ownMetrics;
    if (m) {
      const offer: TelemetryOffer | null = m.destinationEndpoint ? { endpoint: m.destinationEndpoint, headers: Object.fromEntries((m.headers?.headers ?? []).map((h) => [h.key, h.value])) } : null;
      const key = JSON.stringify(offer);
      if (key !== this.lastOffer) {
        this.lastOffer = key;
        this.o.hooks.onOwnMetrics(offer);
      }
    }
    if (reply.remoteConfig?.config) this.o.hooks.onRemoteConfig(reply.remoteConfig);
    if (reply.customMessage) this.o.hooks.onCustomMessage({ capability: reply.customMessage.capability, type: reply.customMessage.type, data: reply.customMessage.data });
    return { retryMs: null };
  }

  /** The configured headers, and OpAMP-Instance-UID (a load balancer keyed on it sends an agent to one replica). */
  private headers(): Record<string, string> {
    return { ...this.o.headers, 'OpAMP-Instance-UID': uidToString(this.uid) };
  }

  private heartbeatMs(): number {
    return this.state.heartbeatSeconds * 1000 * (0.9 + 0.2 * this.o.random());
  }

  private bounded(ms: number): number {
    return Math.min(Math.max(ms, 0), this.o.maxRetryAfterMs);
  }

  /** Records a failure; returns the backoff before the next attempt. */
  private failed(message: string): number {
    this.state.failures++;
    if (this.state.connected || this.state.failures === 1) this.o.log.warn({ opamp_endpoint: this.o.endpoint, error: message }, `fleet hub ${this.o.endpoint}: ${message}; collection and export go on, retrying with backoff`);
    else this.o.log.debug({ error: message, failures: this.state.failures }, `fleet hub: ${message}`);
    this.state.connected = false;
    this.state.lastError = message;
    const cap = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** Math.min(30, this.state.failures - 1));
    return cap * (0.5 + 0.5 * this.o.random());
  }

  private recovered(): void {
    if (!this.state.connected) {
      if (this.state.failures > 0) this.o.log.info({ opamp_endpoint: this.o.endpoint, failures: this.state.failures }, `fleet hub ${this.o.endpoint}: connected again after ${this.state.failures} failed attempts`);
      else this.o.log.info({ opamp_endpoint: this.o.endpoint, instance_uid: uidToString(this.uid) }, `fleet hub ${this.o.endpoint}: connected as ${uidToString(this.uid)}`);
    }
    this.state.connected = true;
    this.state.failures = 0;
    this.state.lastContact = Date.now();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The start of an error body as text, printable characters only. */
function printable(body: Buffer): string {
  return body.toString('utf8', 0, 200).replace(/[^\x20-\x7e]+/g, ' ').trim();
}
