/** Human output of `nrdot-plus-ctl fleet ...`: the hub API's answers as tables and key-value lines. */
import { formatPercent } from '../command/words.js';
import { bold, formatReduction, formatUsd, keyValues, red, yellow } from './style.js';
import { formatTable } from './table.js';
import type { AgentChange } from '../hub/api/dry-run.js';

export interface KpisView {
  time: string | null;
  cost_per_hour_baseline: number | null;
  cost_per_hour_optimized: number | null;
  reduction: number | null;
  coverage_critical: number | null;
  visibility: number | null;
  agent_cpu_percent: number | null;
  agent_rss_bytes: number | null;
}

export interface AgentView {
  instance_uid: string;
  kind: string;
  labels: Record<string, string>;
  status: string;
  offline_since: string | null;
  last_seen: string | null;
  host: string | null;
  version: string | null;
  profile: string | null;
  profile_reason: string | null;
  config_status: string;
  config_error: string | null;
  configs: Array<{ name: string; version: number; priority: number }>;
  fleet_pin: { profile: string; until: string | null } | null;
  health: { healthy: boolean; status: string; last_error: string } | null;
  kpis: KpisView | null;
  warnings: string[];
  first_seen?: string;
  effective_config?: Record<string, string> | null;
  custom_capabilities?: string[];
  transport?: string | null;
}

export interface StatusView {
  agents_total: number;
  agents_online: number;
  agents_offline: number;
  cost_per_hour_baseline: number;
  cost_per_hour_optimized: number;
  reduction: number | null;
  coverage_critical_min: number | null;
  profiles: Record<string, number>;
  configs: number;
  pins: number;
  hub_version: string;
}

export interface ConfigView {
  name: string;
  version: number;
  selector: string;
  priority: number;
  opaque: boolean;
  hash: string;
  created: string | null;
  by: string;
  agents?: number;
}

/** One agent a change reaches, as the hub's API answers a dry run (the hub's own type: one shape on both sides). */
export type AgentChangeView = AgentChange;

export interface PlanView {
  agents: AgentChangeView[];
  reached: number;
}

export interface JournalView {
  id: number;
  time: string | null;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

const labelsText = (labels: Record<string, string>): string => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
const dash = (v: string | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : v);
const shortTime = (t: string | null): string => (t ? t.replace(/\.\d{3}Z$/, 'Z') : '-');

export function renderStatus(s: StatusView): string {
  const [base, opt] = formatUsd([s.cost_per_hour_baseline, s.cost_per_hour_optimized]);
  const profiles = Object.entries(s.profiles).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${n}`).join(', ');
  return keyValues([
    ['agents', `${s.agents_total} (${s.agents_online} online, ${s.agents_offline} offline)`],
    ['cost per hour', s.agents_online === 0 ? 'n/a (no agent online)' : `${base} baseline, ${opt} optimized (reduction ${formatReduction(s.reduction)}), over the agents online`],
    ['critical coverage', s.coverage_critical_min === null ? 'n/a (no agent reported it)' : `${formatPercent(s.coverage_critical_min)} at the lowest`],
    ['profiles', profiles || '-'],
    ['configurations', `${s.configs} fleet configuration(s), ${s.pins} fleet pin(s)`],
    ['hub', `version ${s.hub_version}`],
  ]);
}

function configStatusText(a: AgentView): string {
  if (a.config_status === 'FAILED') return red('FAILED');
  if (a.config_status === 'PENDING') return yellow('PENDING');
  return a.config_status;
}

export function renderAgents(list: AgentView[], selector?: string): string {
  if (list.length === 0) return selector === undefined ? 'no agents have connected to this hub yet (point an agent at it: NRDOT_OPAMP_ENDPOINT=<hub URL>/v1/opamp)' : `no agent matches "${selector}"`;
  const usd = formatUsd(list.map((a) => a.kpis?.cost_per_hour_optimized ?? 0));
  const rows = list.map((a, i) => [
    a.instance_uid,
    dash(a.host),
    a.status === 'online' ? a.status : `offline since ${shortTime(a.offline_since)}`,
    dash(a.profile),
    configStatusText(a),
    labelsText(a.labels),
    a.kpis?.cost_per_hour_optimized === null || a.kpis?.cost_per_hour_optimized === undefined ? '-' : usd[i]!,
    a.kpis ? formatReduction(a.kpis.reduction) : '-',
    a.kpis?.coverage_critical === null || a.kpis?.coverage_critical === undefined ? '-' : formatPercent(a.kpis.coverage_critical),
  ]);
  const table = formatTable(['instance uid', 'host', 'status', 'profile', 'config', 'labels', 'cost/hour', 'reduction', 'critical coverage'], rows, { wrap: [5], drop: [8, 7, 1] });
  const warnings = list.flatMap((a) => a.warnings.map((w) => `${a.instance_uid}: ${yellow(w)}`));
  return [table, ...(warnings.length > 0 ? ['', ...warnings] : [])].join('\n');
}

export function renderAgent(a: AgentView): string {
  const k = a.kpis;
  const rows: Array<[string, string]> = [
    ['instance uid', a.instance_uid],
    ['kind', a.kind === 'nrdot' ? 'NRDOT agent' : 'other OpAMP agent'],
    ['host', dash(a.host)],
    ['version', dash(a.version)],
    ['labels', labelsText(a.labels)],
    ['status', a.status === 'online' ? `online (last seen ${shortTime(a.last_seen)})` : `offline since ${shortTime(a.offline_since)}`],
    ['health', a.health ? `${a.health.healthy ? 'healthy' : red('unhealthy')}${a.health.status ? ` (${a.health.status})` : ''}${a.health.last_error ? `: ${a.health.last_error}` : ''}` : '-'],
    ['profile', a.profile ? `${bold(a.profile)}${a.profile_reason ? `: ${a.profile_reason}` : ''}` : '-'],
    ['fleet pin', a.fleet_pin ? `${a.fleet_pin.profile}${a.fleet_pin.until ? ` until ${a.fleet_pin.until}` : ''}` : '-'],
    ['configurations', a.configs.length > 0 ? a.configs.map((c) => `${c.name} v${c.version} (priority ${c.priority})`).join(', ') : '-'],
    ['config status', `${configStatusText(a)}${a.config_error ? `: ${a.config_error}` : ''}`],
  ];
  if (k) {
    const [base, opt] = formatUsd([k.cost_per_hour_baseline ?? 0, k.cost_per_hour_optimized ?? 0]);
    rows.push(
      ['cost per hour', k.cost_per_hour_baseline === null ? '-' : `${base} baseline, ${opt} optimized (reduction ${formatReduction(k.reduction)})`],
      ['critical coverage', formatPercent(k.coverage_critical)],
      ['agent', `${k.agent_cpu_percent === null ? '-' : `${k.agent_cpu_percent.toFixed(2)}% CPU`}, ${k.agent_rss_bytes === null ? '-' : `${(k.agent_rss_bytes / 1e6).toFixed(1)} MB RSS`}`],
      ['KPIs from', shortTime(k.time)],
    );
  } else rows.push(['KPIs', 'none reported yet']);
  for (const w of a.warnings) rows.push(['warning', yellow(w)]);
  return keyValues(rows);
}

export function renderConfigs(list: ConfigView[]): string {
  if (list.length === 0) return 'no fleet configurations (fleet config apply FILE --name N --selector S adds one)';
  const rows = list.map((c) => [c.name, String(c.version), String(c.priority), c.selector || '(all agents)', String(c.agents ?? '-'), c.opaque ? 'yes' : 'no', shortTime(c.created), c.by]);
  return formatTable(['name', 'version', 'priority', 'selector', 'agents', 'opaque', 'stored', 'by'], rows, { wrap: [3], drop: [7, 6] });
}

export function renderConfig(r: { config: ConfigView; body: string; versions: Array<{ version: number; created: string; by: string }> }): string {
  const c = r.config;
  const head = keyValues([
    ['name', c.name],
    ['version', `${c.version} (versions: ${r.versions.map((v) => v.version).join(', ')})`],
    ['selector', c.selector || '(all agents)'],
    ['priority', String(c.priority)],
    ['opaque', c.opaque ? 'yes (not validated)' : 'no'],
    ['agents', String(c.agents ?? '-')],
    ['stored', `${shortTime(c.created)} by ${c.by}`],
    ['sha256', c.hash],
  ]);
  return `${head}\n\n${r.body.trimEnd()}`;
}

export function renderPlan(what: string, plan: PlanView): string {
  if (plan.agents.length === 0) return `dry run: ${what} would change no agent (its selector selects none, or they run it already); nothing stored`;
  const list = (xs: string[]): string => (xs.length > 0 ? xs.join(', ') : '-');
  const rows = plan.agents.map((a) => [
    a.instance_uid,
    dash(a.host),
    labelsText(a.labels),
    list(a.configs_added),
    list(a.configs_changed),
    list(a.configs_removed),
    a.pin_before === a.pin_after ? dash(a.pin_after) : `${dash(a.pin_before)} -> ${dash(a.pin_after)}`,
  ]);
  const table = formatTable(['instance uid', 'host', 'labels', 'added', 'changed', 'removed', 'fleet pin'], rows, { wrap: [2], drop: [1, 2] });
  return `dry run: ${what} would change ${plan.agents.length} agent(s); nothing stored\n${table}`;
}

export function renderJournal(list: JournalView[]): string {
  if (list.length === 0) return 'no changes journaled (in this window)';
  const details = (d: Record<string, unknown>): string =>
    Object.entries(d)
      .filter(([k, v]) => k !== 'hash' && v !== '')
      .map(([k, v]) => (k === 'until' && v === null ? 'no expiry' : `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`))
      .join(', ');
  const rows = list.map((e) => [shortTime(e.time), e.actor, e.action, e.target || '-', details(e.details)]);
  return formatTable(['time', 'actor', 'action', 'target', 'details'], rows, { wrap: [4] });
}
