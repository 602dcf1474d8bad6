/**
 * `nrdot-plus-ctl profile list|show|get|set|pin|unpin|compare`: the profiles of the configuration, the
 * one in force in the running daemon (set, pinned for a while, unpinned; every change journaled), and
 * what each one cost and covered over a window, in force or as a shadow profile.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, unknownProfile, type Config, type ProfileConfig } from '../config/index.js';
import { PIN_DURATION_HINT, pinSeconds, SINCE_HINT, sinceParam } from '../api/routes.js';
import type { ComparisonAnswer } from '../agent/shadows.js';
import { connectDaemon, findDaemon, operator } from './client.js';
import { CONFIG_OPTION } from '../command/options.js';
import { UsageError } from '../command/errors.js';
import { configure } from '../command/program.js';
import { bold, keyValues, moneyColumn, writeJson, yellow } from './style.js';
import { formatPercent } from '../command/words.js';
import { formatTable, paragraph } from './table.js';

interface JournalEntry {
  time: number;
  from: string | null;
  to: string;
  who: string;
  reason: string;
}

export interface InForce {
  profile: string;
  source: string;
  pin: { profile: string; until: number | null; who: string; reason: string } | null;
  /** The hub's pin (SPEC "Fleet"), in force below a local pin and the emergency guard. */
  fleet_pin?: { profile: string; until: number | null; by: string; reason: string } | null;
  note: string | null;
  rule?: { name: string; schedule: string; timezone?: string } | null;
  last_change: JournalEntry | null;
}

function durationArg(value: string): number {
  const seconds = pinSeconds(value);
  if (seconds === null) throw new InvalidArgumentError(`${PIN_DURATION_HINT}.`);
  return seconds;
}

/** `NAME: why` (pin, who set it, or the configuration default). */
export function describeInForce(f: InForce): string {
  const c = f.last_change;
  const why = f.pin
    ? `pinned by ${f.pin.who}${f.pin.until ? ` until ${new Date(f.pin.until * 1000).toISOString()}` : ' until unpinned'}${f.pin.reason ? ` (${f.pin.reason})` : ''}`
    : f.source === 'fleet pin' && f.fleet_pin
      ? `pinned by the fleet hub (${f.fleet_pin.by}${f.fleet_pin.reason ? `: ${f.fleet_pin.reason}` : ''})${f.fleet_pin.until ? ` until ${new Date(f.fleet_pin.until * 1000).toISOString()}` : ''}`
      : f.source === 'emergency guard'
      ? 'the control loop\'s emergency guard (cost above twice the budget; over the schedule until the loop steps out of emergency)'
      : f.source === 'schedule' && f.rule
      ? `schedule rule "${f.rule.name}" (${f.rule.schedule}, ${f.rule.timezone ?? 'UTC'})`
      : f.source === 'state store' && c
      ? `set by ${c.who} at ${new Date(c.time * 1000).toISOString()} (${c.reason})`
      : 'the configuration default (state.active_profile)';
  return `${bold(f.profile)}: ${why}${f.note ? `; ${yellow(f.note)}` : ''}`;
}

/** --since: a duration back from the latest data or unix seconds (sent as is), or an ISO 8601 time (sent as unix seconds). */
function sinceArg(value: string): string {
  if (sinceParam(value) !== null) return value.trim();
  const t = Date.parse(value);
  if (/^\d{4}-\d\d-\d\d/.test(value.trim()) && !Number.isNaN(t)) return String(t / 1000);
  throw new InvalidArgumentError(`${SINCE_HINT}, or an ISO 8601 time (2026-12-01T09:30:00Z).`);
}

const iso = (t: number): string => new Date(Math.floor(t) * 1000).toISOString().replace(/\.000Z$/, 'Z');
const HOURS_PER_MONTH = 730;

/** The comparison as a table, a profile per row, with what its figures come from. */
export function renderComparison(c: ComparisonAnswer, width?: number): string {
  const window = `${iso(c.since)} to ${iso(c.until)}`;
  const off = c.shadow_profiles.length === 0 ? 'Shadow profiles are off (advanced.shadow_profiles: []): only the profiles in force are measured.' : null;
  if (c.profiles.length === 0) {
    return [`no intervals recorded from ${window} (data time): nothing to compare; widen the window with --since (e.g. --since 7d)`, ...(off ? [off] : [])].join('\n');
  }
  const cur = c.cost_model.currency;
  const ps = c.profiles;
  const header = ['profile', 'in force', 'shadow', `${cur}/hour`, `${cur}/month`, `max ${cur}/hour`, 'series exported', 'max series', 'datapoints reduction', 'billed bytes reduction', 'critical coverage min', 'visibility', 'visibility min'];
  const perHour = moneyColumn(ps.map((p) => p.cost_per_hour_mean));
  const perMonth = moneyColumn(ps.map((p) => p.cost_per_hour_mean * HOURS_PER_MONTH));
  const maxHour = moneyColumn(ps.map((p) => p.cost_per_hour_max));
  const rows = ps.map((p, i) => [
    p.profile + (p.profile === c.in_force ? ' *' : ''),
    String(p.intervals.real),
    String(p.intervals.shadow),
    perHour[i]!,
    perMonth[i]!,
    maxHour[i]!,
    String(Math.round(p.series_exported_mean)),
    String(p.series_exported_max),
    formatPercent(p.reduction_datapoints_mean),
    formatPercent(p.reduction_bytes_mean),
    formatPercent(p.coverage_critical_min),
    formatPercent(p.visibility_mean),
    formatPercent(p.visibility_min),
  ]);
  // The baseline is the same snapshots' for every profile: the one with the most intervals says it best.
  const widest = ps.reduce((a, b) => (b.intervals.real + b.intervals.shadow > a.intervals.real + a.intervals.shadow ? b : a));
  const [base] = moneyColumn([widest.cost_per_hour_baseline_mean]);
  const [baseMonth] = moneyColumn([widest.cost_per_hour_baseline_mean * HOURS_PER_MONTH]);
  return [
    paragraph(`profiles side by side from ${window} (data time), cost in ${cur} (${c.cost_model.billing_model === 'bytes' ? 'billed bytes' : 'datapoints'}); a month is ${HOURS_PER_MONTH} h`, width),
    '',
    // Narrow terminals: the extremes go first, then the byte reduction, the shadow count and the monthly cost.
    formatTable(header, rows, { width, drop: [12, 7, 5, 9, 2, 4] }),
    '',
    paragraph('* in force now. "in force": intervals measured on what the agent exported; "shadow": intervals the profile ran beside it on the same snapshots, for what it would have exported. Means and extremes per interval. Visibility: the smaller of the CPU and memory shares in individual series.', width),
    paragraph(`Baseline (the stock OpenTelemetry process scraper): ${base} ${cur}/hour, ${baseMonth} ${cur}/month.`, width),
    ...(off ? [off] : []),
  ].join('\n');
}

function topK(p: ProfileConfig): string {
  const entries = Object.entries(p.limits.top_k_per_class).filter(([, k]) => k > 0);
  return entries.length === 0 ? 'none' : entries.map(([cls, k]) => `${cls} ${k}`).join(', ');
}

function rollup(p: ProfileConfig): string {
  return p.limits.rollup_by === 'tier' ? 'tier' : `tier+exe x${p.limits.rollup_groups_per_tier}`;
}

export function profileCommand(): Command {
  const cmd = configure(new Command('profile')).description('optimization profiles');
  cmd.addCommand(
    configure(new Command('list'))
      .description('list the profiles with their key parameters')
      .option(...CONFIG_OPTION)
      .option('--json', 'print as JSON')
      .action(async (opts: { config?: string; json?: boolean }) => {
        const { config } = loadConfig(opts.config);
        const configured = config.state.active_profile;
        const daemon = findDaemon();
        const inForce = daemon ? await daemon.get<InForce>('/api/v1/profile').catch(() => null) : null;
        const profiles = Object.entries(config.profiles);
        if (opts.json) {
          const list = profiles.map(([name, p]) => ({ name, default: name === configured, in_force: inForce ? name === inForce.profile : null, ...p }));
          process.stdout.write(JSON.stringify({ profiles: list, in_force: inForce?.profile ?? null }, null, 2) + '\n');
          return;
        }
        const header = ['profile', 'min importance', 'CPU %', 'RSS MB', 'IO KB/s', 'max series', 'anomaly retention min', 'rollup', 'top-K per class', 'description'];
        const rows = profiles.map(([name, p]) => [
          name + (name === inForce?.profile ? ' *' : ''),
          String(p.thresholds.min_importance_score),
          String(p.thresholds.cpu_threshold_percent),
          String(p.thresholds.memory_threshold_mb),
          String(p.thresholds.io_threshold_kb_per_sec),
          String(p.limits.max_series_per_host),
          p.anomaly.retention_minutes > 0 ? String(p.anomaly.retention_minutes) : 'off',
          rollup(p),
          topK(p),
          p.description,
        ]);
        const table = formatTable(header, rows, { wrap: [9, 8], drop: [9, 6, 4] });
        const force = !daemon
          ? 'no agent is running here (nrdot-plus-ctl status), so no profile is in force'
          : inForce
            ? `* in force in the running agent (pid ${daemon.info.pid}): ${describeInForce(inForce)}`
            : `the agent (pid ${daemon.info.pid}) does not answer at ${daemon.info.address}: which profile is in force is unknown`;
        process.stdout.write(`${table}\n\n${paragraph(force)}\n${paragraph(`configured default (state.active_profile): ${configured}`)}\n`);
      }),
  );
  cmd.addCommand(
    configure(new Command('compare'))
      .description('what each profile cost and covered over a window in the running agent: in force (measured) and as a shadow profile, side by side')
      .option('--since <when>', `${SINCE_HINT}, or an ISO 8601 time (default: 24h)`, sinceArg)
      .option('--json', 'print as JSON')
      .action(async (opts: { since?: string; json?: boolean }) => {
        const q = new URLSearchParams(opts.since !== undefined ? { since: opts.since } : {});
        const c = await connectDaemon().get<ComparisonAnswer>(`/api/v1/profiles/compare${opts.since !== undefined ? `?${q.toString()}` : ''}`);
        if (opts.json) return writeJson(c);
        process.stdout.write(renderComparison(c) + '\n');
      }),
  );
  cmd.addCommand(
    configure(new Command('get'))
      .description('print the name of the profile in force in the running agent')
      .option('--json', 'print as JSON, with why it is in force')
      .action(async (opts: { json?: boolean }) => {
        const f = await connectDaemon().get<InForce>('/api/v1/profile');
        if (opts.json) writeJson(f);
        else process.stdout.write(`${f.profile}\n`);
      }),
  );
  cmd.addCommand(
    configure(new Command('show'))
      .description('the profile in force (or NAME) in the running agent: why, and its parameters')
      .argument('[name]', 'a profile of the agent\'s configuration (default: the one in force)')
      .option('--json', 'print as JSON')
      .action(async (name: string | undefined, opts: { json?: boolean }) => {
        const daemon = connectDaemon();
        const f = await daemon.get<InForce>('/api/v1/profile');
        const { config } = await daemon.get<{ config: Config }>('/api/v1/config');
        const shown = name ?? f.profile;
        const p = Object.hasOwn(config.profiles, shown) ? config.profiles[shown] : undefined;
        if (!p) throw new UsageError(unknownProfile(shown, Object.keys(config.profiles)));
        const { entries } = await daemon.get<{ entries: JournalEntry[] }>('/api/v1/journal?limit=5');
        if (opts.json) return writeJson({ name: shown, in_force: shown === f.profile, why: f, parameters: p, journal: entries });
        const rows: Array<[string, string]> = [
          ['profile', shown === f.profile ? `${describeInForce(f)}` : `${bold(shown)} (not in force; ${f.profile} is)`],
          ['description', p.description],
          ['thresholds', `importance >= ${p.thresholds.min_importance_score}, CPU >= ${p.thresholds.cpu_threshold_percent}%, RSS >= ${p.thresholds.memory_threshold_mb} MB, IO >= ${p.thresholds.io_threshold_kb_per_sec} KB/s`],
          ['limits', `max ${p.limits.max_series_per_host} series, top-K ${topK(p)}, rollup ${rollup(p)}`],
          ['anomalies', p.anomaly.retention_minutes > 0 ? `kept ${p.anomaly.retention_minutes} min` : 'off'],
          ...entries.map((e, i): [string, string] => [i === 0 ? 'recent changes' : '', `${new Date(e.time * 1000).toISOString()}  ${e.from ?? '-'} -> ${e.to}  by ${e.who}: ${e.reason}`]),
        ];
        process.stdout.write(keyValues(rows) + '\n');
      }),
  );
  cmd.addCommand(
    configure(new Command('set'))
      .description('set the active profile of the running agent (kept across restarts; journaled)')
      .argument('<name>', 'profile name')
      .option('--reason <text>', 'why (journaled)')
      .option('--json', 'print as JSON')
      .action(async (name: string, opts: { reason?: string; json?: boolean }) => {
        const r = await connectDaemon().change<InForce & { changed: boolean }>('PUT', '/api/v1/profile', { profile: name, who: operator(), ...(opts.reason ? { reason: opts.reason } : {}) });
        if (opts.json) return writeJson(r);
        process.stdout.write(`${r.changed ? `active profile set to ${name}` : `${name} was already the active profile`}; in force: ${describeInForce(r)}\n`);
      }),
  );
  cmd.addCommand(
    configure(new Command('pin'))
      .description('pin a profile in the running agent, over schedules and the control loop (journaled)')
      .argument('<name>', 'profile name')
      .option('--for <duration>', 'how long, e.g. 30m, 2h, 1d (default: until unpinned)', durationArg)
      .option('--reason <text>', 'why (journaled)')
      .option('--json', 'print as JSON')
      .action(async (name: string, opts: { for?: number; reason?: string; json?: boolean }) => {
        const body = { profile: name, who: operator(), ...(opts.for ? { for: opts.for } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
        const r = await connectDaemon().change<InForce>('PUT', '/api/v1/profile/pin', body);
        if (opts.json) return writeJson(r);
        process.stdout.write(`pinned; in force: ${describeInForce(r)}\n`);
      }),
  );
  cmd.addCommand(
    configure(new Command('unpin'))
      .description('remove the pin in the running agent (journaled)')
      .option('--reason <text>', 'why (journaled)')
      .option('--json', 'print as JSON')
      .action(async (opts: { reason?: string; json?: boolean }) => {
        const q = new URLSearchParams({ who: operator(), ...(opts.reason ? { reason: opts.reason } : {}) });
        const r = await connectDaemon().change<InForce & { unpinned: boolean }>('DELETE', `/api/v1/profile/pin?${q.toString()}`);
        if (opts.json) return writeJson(r);
        process.stdout.write(`${r.unpinned ? 'unpinned' : 'no pin to remove'}; in force: ${describeInForce(r)}\n`);
      }),
  );
  return cmd;
}
