/**
 * `nrdot-plus-ctl control status|start|stop|force-check|history` and `nrdot-plus-ctl rollback`: the
 * running agent's control loop, and the one command that takes control back.
 */
import { Command } from 'commander';
import { MAX_ROWS } from '../api/routes.js';
import { usd as usdPerHour } from '../control/loop.js';
import { connectDaemon, findDaemon, operator } from './client.js';
import { CONFIG_OPTION, countArg } from '../command/options.js';
import { EXIT } from '../command/errors.js';
import { describeInForce, type InForce } from './profile.js';
import { configure } from '../command/program.js';
import { bold, dim, formatTime, green, keyValues, red, writeJson, yellow } from './style.js';
import { formatPercent } from '../command/words.js';
import { formatTable } from './table.js';

interface CheckRow {
  time: number;
  outcome: string;
  from: string | null;
  to: string | null;
  reason: string;
  inputs: { costPerHour?: number; budget?: number | null; series?: number; visibility?: number; intervals?: number } | null;
}

interface ControlStatus {
  running: boolean;
  stopped: { time: number; who: string; reason: string } | null;
  enabled_by_configuration: boolean;
  check_interval_s: number;
  next_check_in_s: number;
  targets: {
    budget: { kind: 'relative'; target_reduction: number } | { kind: 'absolute'; max_cost_per_hour: number };
    max_series: number;
    target_series: number;
    min_visibility: number;
    dwell_s: number;
    freeze: { changes: number; window_s: number; for_s: number };
  };
  guard: boolean;
  visibility_out_of_reach: { best: string; visibility: number } | null;
  frozen_until: number | null;
  last_change: number | null;
  last_check: CheckRow | null;
  profile: InForce;
  changed?: boolean;
}

const usd = (v: number | null | undefined): string => (typeof v === 'number' ? usdPerHour(v) : '-');

function budgetText(b: ControlStatus['targets']['budget']): string {
  return b.kind === 'relative' ? `relative: at most ${formatPercent(1 - b.target_reduction)} of the baseline's cost (target_reduction ${b.target_reduction})` : `absolute: ${usd(b.max_cost_per_hour)}`;
}

function checkLine(c: CheckRow): string {
  const i = c.inputs;
  const seen = i && typeof i.costPerHour === 'number' ? ` [cost ${usd(i.costPerHour)} / budget ${usd(i.budget)}, ${i.series} series, visibility ${formatPercent(i.visibility ?? null)}]` : '';
  const move = c.from !== c.to ? `${c.from} -> ${c.to}` : (c.from ?? '-');
  return `${formatTime(c.time)}  ${c.outcome}  ${move}: ${c.reason}${dim(seen)}`;
}

export function renderControlStatus(s: ControlStatus): string {
  const t = s.targets;
  const state = s.running
    ? green('running')
    : `${red('stopped')} by ${s.stopped!.who} at ${formatTime(s.stopped!.time)} (${s.stopped!.reason}); start it with nrdot-plus-ctl control start`;
  const rows: Array<[string, string]> = [
    ['loop', state],
    ['profile', describeInForce(s.profile)],
    ['budget', budgetText(t.budget)],
    ['series', `max ${t.max_series}, target ${t.target_series}`],
    ['min visibility', `${formatPercent(t.min_visibility)}${s.visibility_out_of_reach ? yellow(`: out of reach on this host (best: ${s.visibility_out_of_reach.best} ${formatPercent(s.visibility_out_of_reach.visibility)}); the visibility rule holds`) : ''}`],
    ['anti-thrashing', `dwell ${t.dwell_s} s; more than ${t.freeze.changes} changes in ${t.freeze.window_s / 60} min freeze it for ${t.freeze.for_s} s`],
    ['checks', `every ${s.check_interval_s} s of data${s.running ? `, next in ${s.next_check_in_s} s` : ''}`],
  ];
  if (s.guard) rows.push(['emergency guard', yellow('on: emergency wins over the schedule until the loop steps out of it')]);
  if (s.frozen_until !== null && s.frozen_until * 1000 > Date.now()) rows.push(['frozen until', yellow(formatTime(s.frozen_until))]);
  if (s.last_change !== null) rows.push(['last change', formatTime(s.last_change)]);
  rows.push(['last check', s.last_check ? checkLine(s.last_check) : 'none yet']);
  return keyValues(rows);
}

export function controlCommand(): Command {
  const cmd = configure(new Command('control')).description('the control loop of the running agent: status, start, stop, force-check, history');
  cmd.addCommand(
    configure(new Command('status'))
      .description('running or stopped (by whom, why), the targets, the guard, the last check')
      .option('--json', 'print as JSON')
      .action(async (opts: { json?: boolean }) => {
        const s = await connectDaemon().get<ControlStatus>('/api/v1/control');
        if (opts.json) writeJson(s);
        else process.stdout.write(renderControlStatus(s) + '\n');
      }),
  );
  for (const [name, description] of [
    ['start', 'start the loop (it stays started across restarts)'],
    ['stop', 'stop the loop (it stays stopped across restarts); the profile in force stays'],
  ] as const) {
    cmd.addCommand(
      configure(new Command(name))
        .description(description)
        .option('--reason <text>', 'why (logged)')
        .option('--json', 'print as JSON')
        .action(async (opts: { reason?: string; json?: boolean }) => {
          const s = await connectDaemon().change<ControlStatus>('POST', `/api/v1/control/${name}`, { who: operator(), ...(opts.reason ? { reason: opts.reason } : {}) });
          if (opts.json) return writeJson(s);
          const already = name === 'start' ? 'the control loop was already running' : `the control loop was already stopped${s.stopped ? ` (by ${s.stopped.who}: ${s.stopped.reason})` : ''}`;
          process.stdout.write(`${s.changed ? `control loop ${name === 'start' ? 'started' : 'stopped'}` : already}; in force: ${describeInForce(s.profile)}\n`);
        }),
    );
  }
  cmd.addCommand(
    configure(new Command('force-check'))
      .description('run a check of the loop now, due or not, and print it')
      .option('--json', 'print as JSON')
      .action(async (opts: { json?: boolean }) => {
        const r = await connectDaemon().change<{ check: CheckRow & { changed: boolean }; profile: InForce }>('POST', '/api/v1/control/check', { who: operator() });
        if (opts.json) return writeJson(r);
        process.stdout.write(`${checkLine(r.check)}\nin force: ${describeInForce(r.profile)}\n`);
      }),
  );
  cmd.addCommand(
    configure(new Command('history'))
      .description('the loop\'s checks: inputs, outcome and reason (newest first)')
      .option('--limit <n>', 'checks to show (1-10080)', countArg, 20)
      .option('--changes', 'only the checks that changed the profile')
      .option('--json', 'print as JSON')
      .action(async (opts: { limit: number; changes?: boolean; json?: boolean }) => {
        const { checks: shown } = await connectDaemon().get<{ checks: CheckRow[] }>(`/api/v1/control/history?limit=${Math.min(opts.limit, MAX_ROWS)}${opts.changes ? '&changes=true' : ''}`);
        if (opts.json) return writeJson({ checks: shown });
        if (shown.length === 0) return void process.stdout.write('no checks recorded yet\n');
        const rows = shown.map((c) => [formatTime(c.time), c.outcome, c.from !== c.to ? `${c.from} -> ${c.to}` : (c.from ?? '-'), usd(c.inputs?.costPerHour), usd(c.inputs?.budget), String(c.inputs?.series ?? '-'), formatPercent(c.inputs?.visibility ?? null), c.reason]);
        process.stdout.write(formatTable(['time', 'outcome', 'profile', 'cost', 'budget', 'series', 'visibility', 'reason'], rows, { wrap: [7] }) + '\n');
      }),
  );
  return cmd;
}

export function rollbackCommand(): Command {
  return configure(new Command('rollback'))
    .description('emergency rollback: stop the loop, pin conservative, raise the rollback event, archive state and logs for review (also with the agent down)')
    .option('--reason <text>', 'why (journal, event, archive)')
    .option(...CONFIG_OPTION)
    .option('--json', 'print as JSON')
    .action(async (opts: { reason?: string; config?: string; json?: boolean }) => {
      const by = { who: operator(), reason: opts.reason || 'emergency rollback' };
      const daemon = findDaemon();
      // With no agent running, on its data directory: in force, and the event sent, when it starts.
      // (Loaded only then: the store, the archive writer and the webhook sender are the agent's.)
      const r: RollbackAnswer = daemon
        ? await daemon.change<RollbackAnswer>('POST', '/api/v1/rollback', by)
        : await (await import('../agent/rollback.js')).rollbackWithoutDaemon(opts.config, by);
      // Rolled back either way; an archive that could not be written is a failure to report.
      if (r.archive_error !== null) process.exitCode = EXIT.error;
      if (opts.json) return writeJson(r);
      const down = r.agent_running === false ? `the agent is not running: done in its data directory ${r.data_dir}; in force when it starts, the rollback event sent then\n` : '';
      process.stdout.write(
        `${bold('rolled back')}: control loop stopped, ${r.pinned} pinned until unpinned\n` +
          down +
          (r.archive ? `archive: ${r.archive}\n` : '') +
          `${yellow(r.message)}: read the archive, then \`nrdot-plus-ctl profile unpin\` and \`nrdot-plus-ctl control start\`\n`,
      );
      if (r.archive_error !== null) process.stderr.write(`nrdot-plus-ctl: rollback done, but the archive failed: ${r.archive_error}\n`);
    });
}

interface RollbackAnswer {
  archive: string | null;
  archive_error: string | null;
  pinned: string;
  message: string;
  agent_running?: false;
  data_dir?: string;
}
