/** `nrdot-plus-ctl schedule show [--at TIME]`: which time rule (and profile) applies when, and why. */
import { Command, InvalidArgumentError } from 'commander';
import { configLocation, loadConfig } from '../config/index.js';
import { ruleAt, type TimeRule } from '../control/schedule.js';
import { CONFIG_OPTION } from '../command/options.js';
import { configure } from '../command/program.js';
import { bold, keyValues, writeJson } from './style.js';
import { formatTable, paragraph } from './table.js';

/** How far ahead `show` looks for the next changes, and how many it lists. */
const LOOKAHEAD_MINUTES = 7 * 24 * 60;
const NEXT_CHANGES = 6;

function timeArg(value: string): Date {
  const d = /^\d+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('an ISO 8601 time (2026-12-01T09:30:00+01:00) or unix seconds.');
  return d;
}

export function scheduleCommand(): Command {
  const cmd = configure(new Command('schedule')).description('time schedules of the configuration (advanced.time_based_rules)');
  cmd.addCommand(
    configure(new Command('show'))
      .description('the time rules, the one that applies at a time (default: now) and why, and the next changes within a week')
      .option('--at <time>', 'ISO 8601 time or unix seconds (default: now)', timeArg)
      .option(...CONFIG_OPTION)
      .option('--json', 'print as JSON')
      .action((opts: { at?: Date; config?: string; json?: boolean }) => {
        const { config, file } = loadConfig(opts.config);
        const rules = config.advanced.time_based_rules;
        const at = opts.at ?? new Date();
        const rule = ruleAt(rules, at);
        const next = nextChanges(rules, at);
        const why = rule
          ? `rule "${rule.name}" (${rule.schedule}, ${rule.timezone ?? 'UTC'}) is the first of ${rules.length} that matches`
          : rules.length === 0
            ? 'no time rules are configured'
            : 'no time rule matches: the profile set by operators or the control loop applies';
        if (opts.json) {
          return writeJson({ at: at.toISOString(), rule: rule?.name ?? null, profile: rule?.profile ?? null, why, rules, next: next.map((n) => ({ at: n.at.toISOString(), rule: n.rule?.name ?? null, profile: n.rule?.profile ?? null })) });
        }
        const lines = [keyValues([['at', at.toISOString()], ['profile', rule ? bold(rule.profile) : 'none from the schedule'], ['why', why]])];
        if (rules.length > 0) {
          lines.push('', formatTable(['#', 'RULE', 'SCHEDULE', 'TIMEZONE', 'PROFILE'], rules.map((r, i) => [String(i + 1), r.name, r.schedule, r.timezone ?? 'UTC', r.profile])));
          lines.push('', 'next changes:');
          lines.push(...(next.length ? next.map((n) => `  ${n.at.toISOString()}  ${n.rule ? `${n.rule.profile} (rule "${n.rule.name}")` : 'no rule'}`) : ['  none within a week']));
          lines.push('', 'Overlaps: the first matching rule in this order wins. A pin, and the emergency guard, take precedence over schedules.');
        }
        if (rules.length === 0) lines.push('', howToWriteRules(file ?? configLocation(opts.config).path, file === null));
        process.stdout.write(lines.join('\n') + '\n');
      }),
  );
  return cmd;
}

/** The times within a week after `from` at which the applying rule changes (minute resolution). */
function nextChanges<R extends TimeRule>(rules: readonly R[], from: Date): Array<{ at: Date; rule: R | null }> {
  const out: Array<{ at: Date; rule: R | null }> = [];
  if (rules.length === 0) return out;
  const start = Math.floor(from.getTime() / 60_000) * 60_000;
  let current = ruleAt(rules, new Date(start));
  for (let m = 1; m <= LOOKAHEAD_MINUTES && out.length < NEXT_CHANGES; m++) {
    const at = new Date(start + m * 60_000);
    const rule = ruleAt(rules, at);
    if (rule !== current) {
      out.push({ at, rule });
      current = rule;
    }
  }
  return out;
}

/** Where time rules go and what one looks like: for a configuration without any. */
function howToWriteRules(path: string, missing: boolean): string {
  return [
    paragraph(`To add one, write it under advanced.time_based_rules in ${path}${missing ? ' (no such file yet: the embedded defaults are in force; create it)' : ''}, for example:`),
    '',
    '  advanced:',
    '    time_based_rules:',
    '      - { name: business_hours, schedule: "Mon-Fri 08:00-18:00", profile: balanced, timezone: Europe/Berlin }',
    '      - { name: nights, schedule: "22:00-06:00", profile: aggressive }',
    '',
    paragraph('Then check it with `nrdot-plus-ctl config validate` and apply it with `nrdot-plus-ctl config reload` (the agent also reloads when the file is saved). Forms: Mon-Fri 08:00-18:00, Sat-Sun, Sun 02:00-06:00, 09:00-11:00,14:00-16:00; timezone: IANA, default UTC; the first matching rule wins.'),
  ].join('\n');
}
