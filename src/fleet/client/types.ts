/** What the OpAMP client takes from, and tells, the program that runs it (the agent: src/agent/fleet.ts). */
import type { AgentRemoteConfig } from '../codec.js';

/** PEM contents (not paths): the CA bundle to trust, and the client certificate and key for mutual TLS. */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Log lines the client writes (the agent's pino logger fits). Never given a header value. */
export interface ClientLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** Where the hub wants the agent's own metrics (ConnectionSettingsOffers.own_metrics). */
export interface TelemetryOffer {
  endpoint: string;
  headers: Record<string, string>;
}

export interface CustomMessageIn {
  capability: string;
  type: string;
  data: Uint8Array;
}

export interface ClientHooks {
  /** A remote config arrived: the program applies it and calls setRemoteConfigStatus (at once, if it can: the status goes out in the next message). */
  onRemoteConfig(config: AgentRemoteConfig): void;
  /** The server gave this agent a new instance UID: keep it (the client uses it from now on). */
  onNewInstanceUid(uid: Uint8Array): void;
  /** The own-metrics destination offered, or null when an offer withdrew it. */
  onOwnMetrics(offer: TelemetryOffer | null): void;
  /** A custom message of a capability the agent declared; answer with sendCustomMessage. */
  onCustomMessage(message: CustomMessageIn): void;
}

export interface ClientOptions {
  /** http(s):// (polling) or ws(s):// (WebSocket). */
  endpoint: string;
  headers: Record<string, string>;
  tls: TlsOptions;
  instanceUid: Uint8Array;
  /** AgentCapabilities bits. */
  capabilities: bigint;
  customCapabilities: string[];
  hooks: ClientHooks;
  log: ClientLog;
  /** Until the server offers one (seconds). Default 30. */
  heartbeatSeconds?: number;
  /** A whole exchange (connect, send, answer). Default 15 s. */
  requestTimeoutMs?: number;
  /** The largest answer read from the server. Default 4 MiB. */
  maxResponseBytes?: number;
  /** Backoff after failures: from initial, doubling, capped; jittered. Defaults 1 s and 5 min. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Longest wait a server's retry_info or Retry-After may ask for. Default 1 h. */
  maxRetryAfterMs?: number;
  random?: () => number;
}

/** The client's connection as `status` shows it. */
export interface ConnectionState {
  transport: 'http' | 'websocket';
  connected: boolean;
  /** Unix ms of the last good answer from the server. */
  lastContact: number | null;
  lastError: string | null;
  /** Consecutive failures (the backoff's exponent). */
  failures: number;
  heartbeatSeconds: number;
  /** Unix ms of the next message planned (null while one is in flight or the client is stopped). */
  nextAttemptAt: number | null;
  messagesSent: number;
}
