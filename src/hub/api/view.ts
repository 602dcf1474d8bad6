/**
 * What the API shows of the registry: agents, their KPIs, configs, pins and journal entries as
 * snake_case JSON (the names `fleet ... --json` prints and the console reads). Pure functions.
 */
import { parseSelector, subjectOf } from '../../fleet/selector.js';
import { VERSION } from '../../version.js';
import type { AgentKpis, AgentRecord, FleetConfig, FleetPinRecord, JournalEntry, KpiPoint } from '../store/types.js';

/** The oldest NRDOT agent this hub manages fully; older ones are listed with a warning. */
export const MIN_AGENT_VERSION = '0.1.0';

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Compares dotted versions numerically (1.10 > 1.9); a part that is not a number counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function kpisView(k: AgentKpis | null): Record<string, unknown> | null {
  if (!k) return null;
  return {
    time: iso(k.timeMs),
    profile: k.profile,
    cost_per_hour_baseline: k.costPerHourBaseline,
    cost_per_hour_optimized: k.costPerHourOptimized,
    datapoints_baseline: k.datapointsBaseline,
    datapoints_exported: k.datapointsExported,
    reduction: k.reduction,
    coverage_critical: k.coverageCritical,
    visibility: k.visibility,
    agent_cpu_percent: k.agentCpuPercent,
    agent_rss_bytes: k.agentRssBytes,
    shadow_cost_per_hour: k.shadowCostPerHour,
    extra: k.extra,
  };
}

/** What the hub wants an agent to run (from desiredState) as far as the views need it. */
export interface DesiredView {
  hash: string;
  configs: readonly Pick<FleetConfig, 'name' | 'version' | 'priority' | 'hash'>[];
  pin: { profile: string; until: number | null } | null;
}

/**
 * The state of the agent's fleet configuration: APPLIED / APPLYING / FAILED as it reported for what
 * the hub wants now; PENDING while it has not reported on that yet; NONE when nothing is wanted and
 * nothing was reported.
 */
export function configStatus(agent: AgentRecord, desired: DesiredView): string {
  const reported = agent.remoteConfigStatus;
  if (reported && reported.hash === desired.hash && reported.status !== 'UNSET') return reported.status;
  if (desired.configs.length === 0 && desired.pin === null && (!reported || reported.status === 'UNSET')) return 'NONE';
  return 'PENDING';
}

export function agentWarnings(agent: AgentRecord, desired: DesiredView): string[] {
  const warnings: string[] = [];
  if (agent.kind === 'nrdot' && agent.version && compareVersions(agent.version, MIN_AGENT_VERSION) < 0) {
    warnings.push(`version ${agent.version} is older than this hub supports (${MIN_AGENT_VERSION} or later; hub ${VERSION})`);
  }
  const reported = agent.remoteConfigStatus;
  if (reported?.status === 'FAILED' && reported.hash === desired.hash) warnings.push(`fleet configuration failed: ${reported.error || '(no message)'}`);
  if (agent.health && !agent.health.healthy) warnings.push(`unhealthy: ${agent.health.lastError || agent.health.status || '(no message)'}`);
  return warnings;
}

/** One agent as `fleet agents` lists it. */
export function agentSummary(agent: AgentRecord, desired: DesiredView): Record<string, unknown> {
  return {
    instance_uid: agent.instanceUid,
    kind: agent.kind,
    labels: agent.labels,
    status: agent.status,
    offline_since: iso(agent.offlineSinceMs),
    last_seen: iso(agent.lastSeenMs),
    host: agent.hostName,
    version: agent.version,
    profile: agent.profile,
    profile_reason: agent.profileReason,
    config_status: configStatus(agent, desired),
    config_error: agent.remoteConfigStatus?.status === 'FAILED' ? agent.remoteConfigStatus.error : null,
    configs: desired.configs.map((c) => ({ name: c.name, version: c.version, priority: c.priority })),
    fleet_pin: desired.pin ? { profile: desired.pin.profile, until: desired.pin.until === null ? null : iso(desired.pin.until * 1000) } : null,
    health: agent.health ? { healthy: agent.health.healthy, status: agent.health.status, last_error: agent.health.lastError } : null,
    kpis: kpisView(agent.kpis),
    warnings: agentWarnings(agent, desired),
  };
}

/** Everything about one agent (`fleet agent ID`). */
export function agentDetail(agent: AgentRecord, desired: DesiredView): Record<string, unknown> {
  return {
    ...agentSummary(agent, desired),
    first_seen: iso(agent.firstSeenMs),
    sequence_num: agent.lastSequenceNum,
    observed_interval_seconds: agent.observedIntervalSeconds,
    transport: agent.transport,
    description: agent.description ? { identifying: agent.description.identifying, non_identifying: agent.description.nonIdentifying } : null,
    capabilities: agent.capabilities,
    custom_capabilities: agent.customCapabilities,
    health: agent.health
      ? {
          healthy: agent.health.healthy,
          status: agent.health.status,
          last_error: agent.health.lastError,
          start_time: iso(agent.health.startTimeMs),
          status_time: iso(agent.health.statusTimeMs),
          attributes: agent.health.attributes,
          components: agent.health.components,
        }
      : null,
    effective_config: agent.effectiveConfig,
    remote_config_status: agent.remoteConfigStatus,
    desired_config_hash: desired.hash,
    sent_config_hash: agent.sentConfigHash,
  };
}

export function configView(c: FleetConfig, agents?: number): Record<string, unknown> {
  return {
    name: c.name,
    version: c.version,
    selector: c.selector,
    priority: c.priority,
    opaque: c.opaque,
    content_type: c.contentType,
    hash: c.hash,
    created: iso(c.createdMs),
    by: c.by,
    ...(agents === undefined ? {} : { agents }),
  };
}

export function pinView(p: FleetPinRecord): Record<string, unknown> {
  return {
    id: p.id,
    selector: p.selector,
    profile: p.profile,
    until: p.until === null ? null : iso(p.until * 1000),
    by: p.by,
    reason: p.reason,
    owner: p.ownerKind,
    owner_id: p.ownerId,
    created: iso(p.createdMs),
  };
}

export function journalView(e: JournalEntry): Record<string, unknown> {
  return { id: e.id, time: iso(e.timeMs), actor: e.actor, action: e.action, target: e.target, details: e.details };
}

export function kpiPointView(p: KpiPoint & { group?: string; profile?: string; agents?: number }): Record<string, unknown> {
  return { time: iso(p.timeMs), ...(p.group !== undefined ? { group: p.group, profile: p.profile, agents: p.agents } : {}), values: p.values, min: p.min, samples: p.samples };
}

/** The agents a selector text selects (the caller has checked that it parses). */
export function selected(agents: readonly AgentRecord[], selector: string): AgentRecord[] {
  const s = parseSelector(selector);
  return agents.filter((a) => s.matches(subjectOf(a)));
}
