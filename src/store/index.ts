/** The daemon's SQLite state store: profile state and journal, settings, pipeline state, KPI history and shadow profiles' KPIs, alert outbox, decisions. */
export { isSqliteError, STATE_FILE, StateStore, StoreError } from './store.js';
export { HOURLY_RETENTION_SECONDS, KPI_FIELDS, kpiRecord, RAW_RETENTION_SECONDS, type KpiField } from './kpi-history.js';
export { SCHEMA_VERSION } from './migrations.js';
export type { FleetLayer, FleetState } from './fleet.js';
export type {
  AlertRow,
  ChangeContext,
  CompareQuery,
  DecisionInput,
  DecisionRow,
  JournalEntry,
  KpiHistoryQuery,
  KpiHistoryRow,
  KpiRecord,
  OpenOptions,
  Pin,
  PipelineStateRecord,
  ProfileComparison,
  ProfileState,
  PruneResult,
  ShadowKpi,
  ShadowKpiRecord,
  TimeQuery,
} from './types.js';
