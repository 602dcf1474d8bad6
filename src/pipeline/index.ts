/** The optimizer: snapshot + state -> exported series, decisions, KPIs, next state; several profiles' KPIs at once. */
export { Pipeline, identityKey, type AgentUsage, type RunOptions } from './pipeline.js';
export { ProfileSet } from './profile-set.js';
export { emptyState } from './types.js';
export type { Attributes, Batch, Decision, Kpis, Metric, MetricPoint, Missed, PipelineResult, PipelineState, ResourceSeries } from './types.js';
