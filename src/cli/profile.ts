/**
 * `nrdot-plus-ctl profile list|show|get|set|pin|unpin|compare`: the profiles of the configuration, the
 * one in force in the running daemon (set, pinned for a while, unpinned; every change journaled), and
 * what each one cost and covered over a window, in force or as a shadow profile.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type Config, type ProfileConfig } from '../config/index.js';
import { PIN_DURATION_HINT, pinSeconds, SINCE_HINT, sinceParam } from '../api/routes.js';
import type { ComparisonAnswer } from '../agent/shadows.js';
import { connectDaemon, operator } from './client.js';
import { CONFIG_OPTION } from './config.js';
import { UsageError } from './errors.js';
import { configure } from './program.js';
import { bold, keyValues, writeJson, yellow } from './style.js';
import { formatTable } from './table.js';

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
const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const money = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(4));
const HOURS_PER_MONTH = 730;

/** The comparison as a table, a profile per row, with what its figures come from. */
export function renderComparison(c: ComparisonAnswer): string {
  const window = `${iso(c.since)} to ${iso(c.until)}`;
  const off = c.shadow_profiles.length === 0 ? 'Shadow profiles are off (advanced.shadow_profiles: []): only the profiles in force are measured.' : null;
  if (c.profiles.length === 0) {
    return [`no intervals recorded from ${window} (data time): nothing to compare; widen the window with --since (e.g. --since 7d)`, ...(off ? [off] : [])].join('\n');
  }
  const cur = c.cost_model.currency;
  const header = ['profile', 'in force', 'shadow', `${cur}/hour`, `${cur}/month`, 'max/hour', 'series', 'max series', 'datapoints red.', 'billed bytes red.', 'critical cov. min', 'visibility', 'vis. min'];
  const rows = c.profiles.map((p) => [
    p.profile + (p.profile === c.in_force ? ' *' : ''),
    String(p.intervals.real),
    String(p.intervals.shadow),
    money(p.cost_per_hour_mean),
    money(p.cost_per_hour_mean * HOURS_PER_MONTH),
    money(p.cost_per_hour_max),
    String(Math.round(p.series_exported_mean)),
    String(p.series_exported_max),
    pct(p.reduction_datapoints_mean),
    pct(p.reduction_bytes_mean),
    pct(p.coverage_critical_min),
    pct(p.visibility_mean),
    pct(p.visibility_min),
  ]);
  // The baseline is the same snapshots' for every profile: the one with the most intervals says it best.
  const widest = c.profiles.reduce((a, b) => (b.intervals.real + b.intervals.shadow > a.intervals.real + a.intervals.shadow ? b : a));
  const base = widest.cost_per_hour_baseline_mean;
  return [
    `profiles side by side from ${window} (data time), cost in ${cur} (${c.cost_model.billing_model === 'bytes' ? 'billed bytes' : 'datapoints'}); a month is ${HOURS_PER_MONTH} h`,
    '',
    formatTable(header, rows),
    '',
    '* in force now. "in force": intervals measured on what the agent exported; "shadow": intervals the',
    'profile ran beside it on the same snapshots, for what it would have exported. Means and extremes per interval.',
    `Baseline (the stock OpenTelemetry process scraper): ${money(base)} ${cur}/hour, ${money(base * HOURS_PER_MONTH)} ${cur}/month.`,
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
      .action((opts: { config?: string; json?: boolean }) => {
        const { config } = loadConfig(opts.config);
        const active = config.state.active_profile;
        const profiles = Object.entries(config.profiles);
        if (opts.json) {
          const list = profiles.map(([name, p]) => ({ name, default: name === active, ...p }));
          process.stdout.write(JSON.stringify({ profiles: list }, null, 2) + '\n');
          return;
        }
        const header = ['profile', 'min imp.', 'CPU %', 'RSS MB', 'IO KB/s', 'max series', 'anomaly min', 'rollup', 'top-K', 'description'];
        const rows = profiles.map(([name, p]) => [
          name + (name === active ? ' *' : ''),
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
        process.stdout.write(formatTable(header, rows) + '\n\n* the configured default profile (state.active_profile)\n');
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
        if (!p) throw new UsageError(`no profile named "${shown}" (profiles: ${Object.keys(config.profiles).join(', ')})`);
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
