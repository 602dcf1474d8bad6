// The hub's storage: one interface, two implementations (SQLite embedded, PostgreSQL for
// replicas), one test suite (store.test.ts runs it on both). Everything a replica needs to
// answer any agent lives here; a replica keeps nothing that another one would miss.
// Times are Unix milliseconds throughout. Instance UIDs are their text form (uidToString).
import type { AttributeValue } from '../../fleet/codec.js';
import type { FleetPin } from '../../fleet/directives.js';

export type AgentStatus = 'online' | 'offline';
export type RemoteConfigState = 'UNSET' | 'APPLIED' | 'APPLYING' | 'FAILED';

export interface AgentDescriptionRecord {
  identifying: Record<string, AttributeValue>;
  nonIdentifying: Record<string, AttributeValue>;
}

export interface AgentHealthRecord {
  healthy: boolean;
  status: string;
  lastError: string;
  startTimeMs: number | null;
  statusTimeMs: number | null;
  attributes: Record<string, AttributeValue>;
  components: Record<string, { healthy: boolean; status: string; lastError: string }>;
}

export interface RemoteConfigStatusRecord {
  /** Hex of last_remote_config_hash. */
  hash: string;
  status: RemoteConfigState;
  error: string;
}

/** The latest KPIs an agent reported (from its own metrics), as the registry shows them. */
export interface AgentKpis {
  timeMs: number;
  profile: string | null;
  costPerHourBaseline: number | null;
  costPerHourOptimized: number | null;
  datapointsBaseline: number | null;
  datapointsExported: number | null;
  reduction: number | null;
  coverageCritical: number | null;
  visibility: number | null;
  agentCpuPercent: number | null;
  agentRssBytes: number | null;
  /** Cost per hour of each shadow profile, by profile name. */
  shadowCostPerHour: Record<string, number>;
  /** Anything else numeric the agent reported for the hub, by metric name (gates use these). */
  extra: Record<string, number>;
}

export interface AgentRecord {
  instanceUid: string;
  /** 'nrdot' when the agent offers io.nrdot.plus/v1; others get opaque configs and no directives. */
  kind: 'nrdot' | 'other';
  firstSeenMs: number;
  lastSeenMs: number;
  lastSequenceNum: number;
  status: AgentStatus;
  offlineSinceMs: number | null;
  /** The interval between its messages as the hub observed it (seconds), or null before two. */
  observedIntervalSeconds: number | null;
  transport: 'http' | 'ws' | null;
  /** Replica that holds its WebSocket, if any. */
  replica: string | null;
  description: AgentDescriptionRecord | null;
  /** Its fleet labels (from the `nrdot.fleet.labels.*` non-identifying attributes). */
  labels: Record<string, string>;
  version: string | null;
  hostName: string | null;
  capabilities: number;
  customCapabilities: string[];
  health: AgentHealthRecord | null;
  /** Effective config as reported (secrets redacted), file name to text. */
  effectiveConfig: Record<string, string> | null;
  remoteConfigStatus: RemoteConfigStatusRecord | null;
  /** Hex hash of the remote config the hub last sent it (null: nothing sent yet). */
  sentConfigHash: string | null;
  /** Hash of the connection-settings offer the hub last made it (null: none yet). */
  offeredSettingsHash: string | null;
  /** The profile in force and why, as the agent reported it (health attributes). */
  profile: string | null;
  profileReason: string | null;
  kpis: AgentKpis | null;
}

/** Fields a message may change; undefined leaves a field as it is. */
export type AgentPatch = Partial<Omit<AgentRecord, 'instanceUid' | 'firstSeenMs'>>;

/** One heartbeat, batched: the hot path writes these and nothing else. */
export interface AgentSeen {
  instanceUid: string;
  lastSeenMs: number;
  lastSequenceNum: number;
  observedIntervalSeconds: number | null;
}

export interface FleetConfigInput {
  name: string;
  selector: string;
  priority: number;
  opaque: boolean;
  /** The fragment, verbatim (YAML for NRDOT agents, anything for opaque ones). */
  body: string;
  contentType: string;
  by: string;
}

export interface FleetConfig extends FleetConfigInput {
  version: number;
  /** sha256 hex of the body. */
  hash: string;
  createdMs: number;
}

export type OwnerKind = 'operator' | 'rollout' | 'experiment';

export interface FleetPinRecord extends FleetPin {
  id: number;
  selector: string;
  ownerKind: OwnerKind;
  ownerId: string | null;
  createdMs: number;
}

export interface JournalEntry {
  id: number;
  timeMs: number;
  actor: string;
  /** e.g. config.apply, config.remove, profile.set, profile.unset, agent.forget, agent.clone */
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export type RequestType = 'top' | 'explain' | 'journal';
export type RequestState = 'pending' | 'sent' | 'answered' | 'expired';

export interface AgentRequest {
  id: string;
  instanceUid: string;
  type: RequestType;
  body: Record<string, unknown>;
  state: RequestState;
  createdMs: number;
  sentMs: number | null;
  answeredMs: number | null;
  response: unknown;
}

/** One agent's KPIs for one interval, as ingest hands them to the store. */
export interface KpiSample {
  instanceUid: string;
  timeMs: number;
  /** The label group it counts in for fleet views (e.g. "env=prod,role=db"). */
  group: string;
  profile: string;
  values: Record<string, number>;
}

/** Per agent per minute (or per hour beyond retention): sums and counts, means on read. */
export interface KpiPoint {
  timeMs: number;
  /** Mean of each value over the bucket. */
  values: Record<string, number>;
  /** Minimum of each value over the bucket (coverage gates read minimums). */
  min: Record<string, number>;
  samples: number;
}

export interface FleetKpiPoint extends KpiPoint {
  group: string;
  profile: string;
  agents: number;
}

export interface RetentionSettings {
  /** Keep per-minute rows this long (default 35 days). */
  minuteMs: number;
  /** Keep the hourly rows beyond that this long (default 400 days). */
  hourMs: number;
}

export type TokenKind = 'admin' | 'read';

export interface HubStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs numbered migrations (under an advisory lock on PostgreSQL). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  getAgent(uid: string): Promise<AgentRecord | null>;
  listAgents(): Promise<AgentRecord[]>;
  /** Creates the agent (firstSeenMs = lastSeenMs) or changes the given fields. */
  upsertAgent(uid: string, patch: AgentPatch, nowMs: number): Promise<AgentRecord>;
  /** Heartbeats in one statement per batch. */
  recordSeen(batch: readonly AgentSeen[]): Promise<void>;
  /** Agents online whose last message is older than 3 of their observed intervals (or of
   * `defaultIntervalSeconds`) become offline; returns their UIDs. */
  markOffline(nowMs: number, defaultIntervalSeconds: number): Promise<string[]>;
  forgetAgent(uid: string): Promise<boolean>;

  /** Stores a new version of the named config (version 1 when new). */
  putConfig(input: FleetConfigInput, nowMs: number): Promise<FleetConfig>;
  /** The current version of every config not removed. */
  listConfigs(): Promise<FleetConfig[]>;
  getConfig(name: string, version?: number): Promise<FleetConfig | null>;
  removeConfig(name: string, by: string, nowMs: number): Promise<boolean>;

  listPins(): Promise<FleetPinRecord[]>;
  addPin(pin: Omit<FleetPinRecord, 'id'>): Promise<FleetPinRecord>;
  /** Removes pins of the given owner whose selector is exactly this one; returns how many. */
  removePins(selector: string, ownerKind: OwnerKind, ownerId: string | null): Promise<number>;

  enqueueRequest(uid: string, type: RequestType, body: Record<string, unknown>, nowMs: number): Promise<AgentRequest>;
  /** Pending requests for this agent, marked sent. */
  takeRequests(uid: string, nowMs: number): Promise<AgentRequest[]>;
  answerRequest(id: string, response: unknown, nowMs: number): Promise<void>;
  getRequest(id: string): Promise<AgentRequest | null>;
  /** Agents with a pending request (so a heartbeat offer can be shortened). */
  pendingRequestCount(): Promise<number>;

  /** Adds samples to the per-minute rows of each agent and of its (group, profile). */
  ingestKpis(samples: readonly KpiSample[]): Promise<void>;
  agentKpis(uid: string, fromMs: number, toMs: number): Promise<KpiPoint[]>;
  fleetKpis(fromMs: number, toMs: number): Promise<FleetKpiPoint[]>;
  /** Folds minute rows older than retention.minuteMs into hourly rows; drops hourly beyond hourMs. */
  downsample(nowMs: number, retention: RetentionSettings): Promise<void>;

  appendJournal(entry: Omit<JournalEntry, 'id'>): Promise<JournalEntry>;
  listJournal(q: { sinceMs?: number; limit?: number }): Promise<JournalEntry[]>;

  /** sha256 hex of each token; created once for all replicas (returns false when they existed). */
  saveTokens(hashes: Record<TokenKind, string>): Promise<boolean>;
  tokenHashes(): Promise<Partial<Record<TokenKind, string>>>;

  /** Background jobs run where this returns true; on PostgreSQL an advisory lock on a
   * dedicated connection (lost with the replica, taken over by the next call elsewhere). */
  tryLeadership(): Promise<boolean>;
  /** Wakes every replica (LISTEN/NOTIFY on PostgreSQL; in-process on SQLite). */
  notify(payload: string): Promise<void>;
  onNotify(handler: (payload: string) => void): void;
}
