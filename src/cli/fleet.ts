/**
 * `nrdot-plus-ctl fleet ...`: the fleet hub from the command line (src/hub/api): the fleet's status,
 * its agents, fleet configurations (apply with validation and --dry-run, list, show, remove), fleet
 * pins (`profile set|unset`) and the hub's journal. Human tables, or --json everywhere.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../command/errors.js';
import { configure } from '../command/program.js';
import { durationSeconds } from '../config/schema.js';
import { describeFileError } from '../file-errors.js';
import { HubClient } from './hub-client.js';
import { renderAgent, renderAgents, renderConfig, renderConfigs, renderJournal, renderPlan, renderStatus, type AgentView, type ConfigView, type JournalView, type PlanView, type StatusView } from './fleet-view.js';
import { writeJson } from './style.js';

interface JsonOpt {
  json?: boolean;
}

const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const jsonOption = (): [string, string] => ['--json', 'print as JSON'];

function priorityArg(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || Math.abs(n) > 1_000_000) throw new InvalidArgumentError('must be a whole number from -1000000 to 1000000.');
  return n;
}

function durationArg(value: string): string {
  try {
    if (durationSeconds(value) > 0) return value.trim();
  } catch {
    // below
  }
  throw new InvalidArgumentError('must be a duration such as 30m, 2h or 7d.');
}

/** --since: a duration back from now (1h, 7d) or an ISO 8601 time; sent as Unix milliseconds. */
function sinceArg(value: string): number {
  const v = value.trim();
  try {
    return Date.now() - durationSeconds(v) * 1000;
  } catch {
    const t = Date.parse(v);
    if (/^\d{4}-\d\d-\d\d/.test(v) && !Number.isNaN(t)) return t;
  }
  throw new InvalidArgumentError('must be a duration back from now (30m, 1h, 7d) or an ISO 8601 time (2026-12-01T09:30:00Z).');
}

function readFragment(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: ${describeFileError(err)}`);
  }
}

function agentCommand(): Command {
  const agent = configure(new Command('agent'))
    .description('one agent in full: labels, health, configurations, profile, KPIs (the instance UID or a unique start of it)')
    .argument('<id>', 'instance UID (or its first characters)')
    .option(...jsonOption())
    .action(async (id: string, opts: JsonOpt) => {
      const a = await HubClient.fromEnv().get<AgentView>(`/agents/${encodeURIComponent(id)}`);
      if (opts.json) writeJson(a);
      else out(renderAgent(a));
    });
  agent.addCommand(
    configure(new Command('forget'))
      .description('remove a decommissioned agent from the registry (it registers again if it connects again)')
      .argument('<id>', 'instance UID (or its first characters)')
      .option(...jsonOption())
      .action(async (id: string, opts: JsonOpt) => {
        const r = await HubClient.fromEnv().delete<{ forgotten: string }>(`/agents/${encodeURIComponent(id)}`);
        if (opts.json) writeJson(r);
        else out(`agent ${r.forgotten} forgotten`);
      }),
  );
  return agent;
}

function configCommand(): Command {
  const config = configure(new Command('config')).description('fleet configurations: named, versioned fragments sent to the agents a selector selects');
  config.addCommand(
    configure(new Command('apply'))
      .description('store FILE as a new version of configuration NAME (validated with the agent\'s schema unless --opaque) and push it to the agents it selects')
      .argument('<file>', 'the fragment (YAML: only the settings it changes; no version line needed)')
      .requiredOption('--name <name>', 'the configuration\'s name (lowercase letters, digits, ".", "_", "-")')
      .requiredOption('--selector <selector>', 'which agents: env=prod,role in (db,web),!canary ("" for all)')
      .addOption(new Option('--priority <n>', 'applying order: ascending priority, then name; a later one wins').argParser(priorityArg).default(0))
      .option('--opaque', 'for other OpAMP agents: sent as is, not validated')
      .option('--dry-run', 'show which agents it reaches and what it changes, store nothing')
      .option(...jsonOption())
      .action(async (file: string, opts: JsonOpt & { name: string; selector: string; priority: number; opaque?: boolean; dryRun?: boolean }) => {
        const body = readFragment(file);
        const r = await HubClient.fromEnv().post<PlanView & { config?: ConfigView; unchanged?: boolean; version?: number }>('/configs', {
          name: opts.name,
          selector: opts.selector,
          priority: opts.priority,
          opaque: opts.opaque ?? false,
          body,
          dry_run: opts.dryRun ?? false,
        });
        if (opts.json) return writeJson(r);
        if (opts.dryRun) return out(renderPlan(`fleet config ${opts.name} version ${r.version ?? '?'}`, r));
        const c = r.config!;
        if (r.unchanged) return out(`fleet config ${c.name} is unchanged (version ${c.version}, selecting ${c.agents ?? 0} agent(s)): nothing sent`);
        out(`fleet config ${c.name} version ${c.version} stored (selector "${c.selector}", priority ${c.priority}${c.opaque ? ', opaque' : ''}); it changes ${r.reached} agent(s), which get it at their next poll`);
      }),
  );
  config.addCommand(
    configure(new Command('list'))
      .description('the fleet configurations and how many agents each selects')
      .option(...jsonOption())
      .action(async (opts: JsonOpt) => {
        const list = await HubClient.fromEnv().get<ConfigView[]>('/configs');
        if (opts.json) writeJson(list);
        else out(renderConfigs(list));
      }),
  );
  config.addCommand(
    configure(new Command('show'))
      .description('one configuration: its selector, priority, versions and body')
      .argument('<name>')
      .addOption(new Option('--version <n>', 'an earlier version').argParser((v) => priorityArg(v)))
      .option(...jsonOption())
      .action(async (name: string, opts: JsonOpt & { version?: number }) => {
        const r = await HubClient.fromEnv().get<{ config: ConfigView; body: string; versions: Array<{ version: number; created: string; by: string }> }>(`/configs/${encodeURIComponent(name)}`, { version: opts.version });
        if (opts.json) writeJson(r);
        else out(renderConfig(r));
      }),
  );
  config.addCommand(
    configure(new Command('remove'))
      .description('remove a configuration; the agents it selected get their new set')
      .argument('<name>')
      .option(...jsonOption())
      .action(async (name: string, opts: JsonOpt) => {
        const r = await HubClient.fromEnv().delete<{ removed: string; reached: number }>(`/configs/${encodeURIComponent(name)}`);
        if (opts.json) writeJson(r);
        else out(`fleet config ${r.removed} removed; it changes ${r.reached} agent(s)`);
      }),
  );
  return config;
}

function profileCommand(): Command {
  const profile = configure(new Command('profile')).description('fleet pins: a profile in force on the agents a selector selects (above their schedule and control loop; a local pin still wins)');
  profile.addCommand(
    configure(new Command('set'))
      .description('pin PROFILE on the agents SELECTOR selects (replaces the pin with the same selector)')
      .argument('<profile>')
      .requiredOption('--selector <selector>', 'which agents: env=prod,role in (db,web),!canary')
      .addOption(new Option('--for <duration>', 'expire after this long (30m, 2h, 7d); default: until unset').argParser(durationArg))
      .option('--reason <text>', 'why (in the journal and on the agents)')
      .option('--dry-run', 'show which agents it changes, store nothing')
      .option(...jsonOption())
      .action(async (name: string, opts: JsonOpt & { selector: string; for?: string; reason?: string; dryRun?: boolean }) => {
        const r = await HubClient.fromEnv().post<PlanView & { pin?: { profile: string; selector: string; until: string | null } }>('/pins', {
          profile: name,
          selector: opts.selector,
          ...(opts.for ? { for: opts.for } : {}),
          ...(opts.reason ? { reason: opts.reason } : {}),
          dry_run: opts.dryRun ?? false,
        });
        if (opts.json) return writeJson(r);
        if (opts.dryRun) return out(renderPlan(`fleet pin ${name} on "${opts.selector}"`, r));
        const p = r.pin!;
        out(`fleet pin ${p.profile} on "${p.selector}"${p.until ? ` until ${p.until}` : ' until unset'}; it changes ${r.reached} agent(s), which take it at their next poll`);
      }),
  );
  profile.addCommand(
    configure(new Command('unset'))
      .description('remove the fleet pin with this selector')
      .requiredOption('--selector <selector>', 'the selector the pin was set with')
      .option('--dry-run', 'show which agents it changes, remove nothing')
      .option(...jsonOption())
      .action(async (opts: JsonOpt & { selector: string; dryRun?: boolean }) => {
        const r = await HubClient.fromEnv().delete<PlanView & { removed: number }>('/pins', { selector: opts.selector, dry_run: opts.dryRun ? true : undefined });
        if (opts.json) return writeJson(r);
        if (opts.dryRun) return out(renderPlan(`removing the fleet pin on "${opts.selector}"`, r));
        out(`fleet pin on "${opts.selector}" removed; it changes ${r.reached} agent(s)`);
      }),
  );
  return profile;
}

export function fleetCommand(): Command {
  const fleet = configure(new Command('fleet')).description('the fleet hub (NRDOT_HUB_URL, default http://127.0.0.1:4320; token in NRDOT_HUB_TOKEN)');
  fleet.addCommand(
    configure(new Command('status'))
      .description('the fleet at a glance: agents online, cost per hour, reduction, lowest critical coverage, agents by profile')
      .option(...jsonOption())
      .action(async (opts: JsonOpt) => {
        const s = await HubClient.fromEnv().get<StatusView>('/status');
        if (opts.json) writeJson(s);
        else out(renderStatus(s));
      }),
  );
  fleet.addCommand(
    configure(new Command('agents'))
      .description('the agents (those a selector selects): status, profile, configuration status, cost')
      .option('--selector <selector>', 'only these: env=prod,role in (db,web),!canary')
      .option(...jsonOption())
      .action(async (opts: JsonOpt & { selector?: string }) => {
        const list = await HubClient.fromEnv().get<AgentView[]>('/agents', { selector: opts.selector });
        if (opts.json) writeJson(list);
        else out(renderAgents(list, opts.selector));
      }),
  );
  fleet.addCommand(agentCommand());
  fleet.addCommand(configCommand());
  fleet.addCommand(profileCommand());
  fleet.addCommand(
    configure(new Command('journal'))
      .description('who changed what on the hub')
      .addOption(new Option('--since <when>', 'from this long ago (1h, 7d) or this time (ISO 8601)').argParser(sinceArg))
      .addOption(new Option('--limit <n>', 'at most this many entries').argParser((v) => {
        const n = priorityArg(v);
        if (n < 1 || n > 10_000) throw new InvalidArgumentError('must be from 1 to 10000.');
        return n;
      }).default(100))
      .option(...jsonOption())
      .action(async (opts: JsonOpt & { since?: number; limit: number }) => {
        const list = await HubClient.fromEnv().get<JournalView[]>('/journal', { since: opts.since === undefined ? undefined : Math.floor(opts.since), limit: opts.limit });
        if (opts.json) writeJson(list);
        else out(renderJournal(list));
      }),
  );
  return fleet;
}
