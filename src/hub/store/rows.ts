// Rows <-> records: column names, JSON columns, numbers from BIGINT. Kept apart from the queries
// so both backends read and write rows exactly the same way.
import type { AgentPatch, AgentRecord, AgentRequest, FleetConfig, FleetPinRecord, JournalEntry, OwnerKind } from './types.js';
import type { AgentsTable, ConfigsTable, JournalTable, PinsTable, RequestsTable } from './schema.js';

/** A JSON column's value: pg hands back parsed JSONB, SQLite the text we wrote. */
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

type AgentField = Exclude<keyof AgentRecord, 'instanceUid'>;
type AgentColumn = Exclude<keyof AgentsTable, 'uid'>;

/** Each record field's column, and whether it is stored as JSON. */
const AGENT_COLUMNS: Record<AgentField, [AgentColumn, boolean]> = {
  kind: ['kind', false],
  firstSeenMs: ['first_seen_ms', false],
  lastSeenMs: ['last_seen_ms', false],
  lastSequenceNum: ['last_sequence_num', false],
  status: ['status', false],
  offlineSinceMs: ['offline_since_ms', false],
  observedIntervalSeconds: ['observed_interval_seconds', false],
  transport: ['transport', false],
  replica: ['replica', false],
  description: ['description', true],
  labels: ['labels', true],
  version: ['version', false],
  hostName: ['host_name', false],
  capabilities: ['capabilities', false],
  customCapabilities: ['custom_capabilities', true],
  health: ['health', true],
  effectiveConfig: ['effective_config', true],
  remoteConfigStatus: ['remote_config_status', true],
  sentConfigHash: ['sent_config_hash', false],
  offeredSettingsHash: ['offered_settings_hash', false],
  profile: ['profile', false],
  profileReason: ['profile_reason', false],
  kpis: ['kpis', true],
};

/** The columns a patch sets (undefined fields left out; null JSON stays SQL NULL). */
export function agentPatchColumns(patch: AgentPatch): Partial<Record<AgentColumn, unknown>> {
  const out: Partial<Record<AgentColumn, unknown>> = {};
  for (const [field, [column, json]] of Object.entries(AGENT_COLUMNS) as [AgentField, [AgentColumn, boolean]][]) {
    const value = (patch as Partial<AgentRecord>)[field];
    if (value === undefined) continue;
    out[column] = json && value !== null ? toJson(value) : value;
  }
  return out;
}

/** A new agent's row: defaults, then the patch. */
export function newAgentRow(uid: string, patch: AgentPatch, nowMs: number): AgentsTable {
  const seen = patch.lastSeenMs ?? nowMs;
  const defaults: AgentsTable = {
    uid,
    kind: 'other',
    first_seen_ms: seen,
    last_seen_ms: seen,
    last_sequence_num: 0,
    status: 'online',
    offline_since_ms: null,
    observed_interval_seconds: null,
    transport: null,
    replica: null,
    description: null,
    labels: '{}',
    version: null,
    host_name: null,
    capabilities: 0,
    custom_capabilities: '[]',
    health: null,
    effective_config: null,
    remote_config_status: null,
    sent_config_hash: null,
    offered_settings_hash: null,
    profile: null,
    profile_reason: null,
    kpis: null,
  };
  return { ...defaults, ...agentPatchColumns(patch), uid } as AgentsTable;
}

export function agentFromRow(row: AgentsTable): AgentRecord {
  const json = <T>(v: unknown): T | null => (v === null || v === undefined ? null : fromJson<T>(v));
  return {
    instanceUid: row.uid,
    kind: row.kind as AgentRecord['kind'],
    firstSeenMs: num(row.first_seen_ms),
    lastSeenMs: num(row.last_seen_ms),
    lastSequenceNum: num(row.last_sequence_num),
    status: row.status as AgentRecord['status'],
    offlineSinceMs: numOrNull(row.offline_since_ms),
    observedIntervalSeconds: numOrNull(row.observed_interval_seconds),
    transport: row.transport as AgentRecord['transport'],
    replica: row.replica,
    description: json(row.description),
    labels: json(row.labels) ?? {},
    version: row.version,
    hostName: row.host_name,
    capabilities: num(row.capabilities),
    customCapabilities: json(row.custom_capabilities) ?? [],
    health: json(row.health),
    effectiveConfig: json(row.effective_config),
    remoteConfigStatus: json(row.remote_config_status),
    sentConfigHash: row.sent_config_hash,
    offeredSettingsHash: row.offered_settings_hash,
    profile: row.profile,
    profileReason: row.profile_reason,
    kpis: json(row.kpis),
  };
}

export function configFromRow(row: ConfigsTable): FleetConfig {
  return {
    name: row.name,
    version: num(row.version),
    selector: row.selector,
    priority: num(row.priority),
    opaque: num(row.opaque) !== 0,
    body: row.body,
    contentType: row.content_type,
    by: row.created_by,
    hash: row.hash,
    createdMs: num(row.created_ms),
  };
}

export function pinFromRow(row: Omit<PinsTable, 'id'> & { id: unknown }): FleetPinRecord {
  return {
    id: num(row.id),
    selector: row.selector,
    ownerKind: row.owner_kind as OwnerKind,
    ownerId: row.owner_id,
    profile: row.profile,
    until: numOrNull(row.until_s),
    by: row.created_by,
    reason: row.reason,
    createdMs: num(row.created_ms),
  };
}

export function requestFromRow(row: RequestsTable): AgentRequest {
  return {
    id: row.id,
    instanceUid: row.uid,
    type: row.type as AgentRequest['type'],
    body: fromJson(row.body),
    state: row.state as AgentRequest['state'],
    createdMs: num(row.created_ms),
    sentMs: numOrNull(row.sent_ms),
    answeredMs: numOrNull(row.answered_ms),
    response: row.response === null ? null : fromJson(row.response),
  };
}

export function journalFromRow(row: Omit<JournalTable, 'id'> & { id: unknown }): JournalEntry {
  return {
    id: num(row.id),
    timeMs: num(row.time_ms),
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: fromJson(row.details),
  };
}
