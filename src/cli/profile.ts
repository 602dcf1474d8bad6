/**
 * `nrdot-plus-ctl profile list|show|get|set|pin|unpin`: the profiles of the configuration, and the
 * one in force in the running daemon (set, pinned for a while, unpinned; every change journaled).
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type Config, type ProfileConfig } from '../config/index.js';
import { PIN_DURATION_HINT, pinSeconds } from '../api/routes.js';
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
