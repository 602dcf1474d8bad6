// The hub database's tables as Kysely sees them (migrations.ts creates them). Times are Unix
// milliseconds in BIGINT columns. JSON columns are TEXT on SQLite and JSONB on PostgreSQL: we
// write JSON text to both, and read back a string (SQLite) or a parsed value (pg), which
// `fromJson` in rows.ts accepts either way. Booleans are 0/1 integers on both.
import type { Generated } from 'kysely';

/** A JSON column: written as JSON text, read as text (SQLite) or already parsed (PostgreSQL). */
export type Json = unknown;

export interface AgentsTable {
  uid: string;
  kind: string;
  first_seen_ms: number;
  last_seen_ms: number;
  last_sequence_num: number;
  status: string;
  offline_since_ms: number | null;
  observed_interval_seconds: number | null;
  transport: string | null;
  replica: string | null;
  description: Json | null;
  labels: Json;
  version: string | null;
  host_name: string | null;
  capabilities: number;
  custom_capabilities: Json;
  health: Json | null;
  effective_config: Json | null;
  remote_config_status: Json | null;
  sent_config_hash: string | null;
  offered_settings_hash: string | null;
  profile: string | null;
  profile_reason: string | null;
  kpis: Json | null;
}

export interface ConfigsTable {
  name: string;
  version: number;
  selector: string;
  priority: number;
  opaque: number;
  body: string;
  content_type: string;
  created_by: string;
  hash: string;
  created_ms: number;
  /** Set on every version of a name when it is removed; a later put starts a live version again. */
  removed_ms: number | null;
  removed_by: string | null;
}

export interface PinsTable {
  id: Generated<number>;
  selector: string;
  owner_kind: string;
  owner_id: string | null;
  profile: string;
  until_s: number | null;
  created_by: string;
  reason: string;
  created_ms: number;
}

export interface RequestsTable {
  id: string;
  uid: string;
  type: string;
  body: Json;
  state: string;
  created_ms: number;
  sent_ms: number | null;
  answered_ms: number | null;
  response: Json | null;
}

export interface JournalTable {
  id: Generated<number>;
  time_ms: number;
  actor: string;
  action: string;
  target: string;
  details: Json;
}

export interface TokensTable {
  kind: string;
  hash: string;
  created_ms: number;
}

/**
 * One agent's KPIs over one bucket: a minute (span_ms 60000) or, beyond the minute retention, an
 * hour (3600000). `sums`, `mins` and `counts` are JSON objects keyed by value name; the mean of a
 * value is sums[k] / counts[k] (a value may be missing from some samples).
 */
export interface KpiAgentTable {
  uid: string;
  span_ms: number;
  time_ms: number;
  samples: number;
  sums: Json;
  mins: Json;
  counts: Json;
}

/** The same per (label group, profile): what fleet views read. `agents`: see kpis.ts. */
export interface KpiFleetTable {
  grp: string;
  profile: string;
  span_ms: number;
  time_ms: number;
  samples: number;
  agents: number;
  sums: Json;
  mins: Json;
  counts: Json;
}

export interface MigrationsTable {
  id: number;
  name: string;
  applied_ms: number;
}

export interface HubDatabase {
  agents: AgentsTable;
  configs: ConfigsTable;
  pins: PinsTable;
  requests: RequestsTable;
  journal: JournalTable;
  tokens: TokensTable;
  kpi_agent: KpiAgentTable;
  kpi_fleet: KpiFleetTable;
  hub_migrations: MigrationsTable;
}
