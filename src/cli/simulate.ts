/**
 * `nrdot-plus-ctl simulate`: streams a recording through each profile independently (one pass, one
 * pipeline and state per profile) and compares them with the baseline side by side.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, unknownProfile, type Config } from '../config/index.js';
import { toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type PipelineState } from '../pipeline/index.js';
import { Summary, type ProfileSummary } from '../pipeline/summary.js';
import { readRecording } from '../snapshot/recording.js';
import { CONFIG_OPTION } from '../command/options.js';
import { UsageError, UserError } from '../command/errors.js';
import { configure } from '../command/program.js';
import { formatTable, paragraph } from './table.js';
import { runControlOffline, type ControlRun } from '../control/offline.js';
import { ABOVE_BASELINE, formatPercent, versusBaseline } from '../command/words.js';
import { formatDuration, formatTime, keyValues, moneyColumn } from './style.js';

interface SimulateOptions {
  input: string;
  config?: string;
  profile?: string;
  profiles?: string;
  json?: boolean;
  exportFile?: string;
  control?: boolean;
  budgetPerHour?: number;
  targetReduction?: number;
}

function usdArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a cost per hour above 0, such as 0.0012.');
  return n;
}

function reductionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('a fraction between 0 and 1, such as 0.85.');
  return n;
}

/** The profiles asked for: --profile, --profiles a,b / all, else every profile of the configuration. */
export function chooseProfiles(config: Config, one?: string, many?: string): string[] {
  if (one !== undefined && many !== undefined) throw new UsageError('--profile and --profiles: give one or the other');
  const all = Object.keys(config.profiles);
  const names = one !== undefined ? [one] : many === undefined || many === 'all' ? all : many.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!Object.hasOwn(config.profiles, name)) throw new UsageError(`${one !== undefined ? '--profile' : '--profiles'}: ${unknownProfile(name, all)}`);
  }
  return names;
}

export function simulateCommand(): Command {
  return configure(new Command('simulate'))
    .description('replay a recording through one or more profiles and compare them with the baseline')
    .requiredOption('-i, --input <file>', 'recording (NDJSON, .gz or not) from `snapshot` or `synth`')
    .option(...CONFIG_OPTION)
    .option('--profile <name>', 'one profile')
    .option('--profiles <list>', 'comma-separated profiles, or "all" (default: all)')
    .option('--json', 'print the summary as JSON')
    .addOption(new Option('--export-file <file>', 'write what would be exported, OTLP JSON, one request per interval per line (one profile, or --control)'))
    .option('--control', 'run the control loop over the recording, on its own time, from the configured profile')
    .addOption(new Option('--budget-per-hour <usd>', 'with --control: absolute budget (control_loop.max_cost_per_hour)').argParser(usdArg).conflicts('targetReduction'))
    .addOption(new Option('--target-reduction <r>', 'with --control: relative budget (control_loop.target_reduction)').argParser(reductionArg))
    .action(async (opts: SimulateOptions) => {
      const { config } = loadConfig(opts.config);
      if (!opts.control && (opts.budgetPerHour !== undefined || opts.targetReduction !== undefined)) {
        throw new UsageError(`${opts.budgetPerHour !== undefined ? '--budget-per-hour' : '--target-reduction'}: only with --control`);
      }
      if (opts.control) return simulateControlCommand(config, opts);
      const profiles = chooseProfiles(config, opts.profile, opts.profiles);
      if (opts.exportFile !== undefined && profiles.length !== 1) throw new UsageError('--export-file: choose exactly one profile with --profile');
      const summaries = await simulate(config, profiles, opts.input, opts.exportFile);
      if (opts.json) process.stdout.write(JSON.stringify({ input: opts.input, profiles: summaries }, null, 2) + '\n');
      else process.stdout.write(renderSummaries(summaries, config) + '\n');
    });
}

async function simulateControlCommand(config: Config, opts: SimulateOptions): Promise<void> {
  if (opts.profile !== undefined || opts.profiles !== undefined) throw new UsageError('--control starts from the configured profile (state.active_profile): drop --profile/--profiles, or set it with --config');
  if (opts.budgetPerHour !== undefined) config.control_loop.max_cost_per_hour = opts.budgetPerHour;
  if (opts.targetReduction !== undefined) {
    config.control_loop.target_reduction = opts.targetReduction;
    delete config.control_loop.max_cost_per_hour;
  }
  const out = opts.exportFile === undefined ? null : await openExportFile(opts.exportFile);
  const temporality = config.exporters.otlp.temporality;
  let run: ControlRun;
  try {
    run = await runControlOffline(config, readRecording(opts.input), {
      onBatch: out ? async (batch) => void (out.write(JSON.stringify(toOtlpJson(batch.resources, batch, temporality)) + '\n') || (await once(out, 'drain'))) : undefined,
    });
  } finally {
    if (out) await closeStream(out);
  }
  if (opts.json) process.stdout.write(JSON.stringify({ input: opts.input, billing_model: config.cost_model.billing_model, ...run }, null, 2) + '\n');
  else process.stdout.write(renderControlRun(run, config, opts.input) + '\n');
}

async function openExportFile(path: string): Promise<WriteStream> {
  const out = createWriteStream(path);
  await Promise.race([once(out, 'open'), once(out, 'error').then(([err]) => Promise.reject(new UserError(`--export-file ${path}: ${(err as Error).message}`)))]);
  return out;
}

async function closeStream(out: WriteStream): Promise<void> {
  const closed = once(out, 'close');
  out.end();
  await closed;
}

export async function simulate(config: Config, profiles: string[], input: string, exportFile?: string): Promise<ProfileSummary[]> {
  const runs = profiles.map((name) => ({ pipeline: new Pipeline(config, name), state: emptyState() as PipelineState, summary: new Summary(name) }));
  const out = exportFile === undefined ? null : await openExportFile(exportFile);
  const temporality = config.exporters.otlp.temporality;
  try {
    for await (const snapshot of readRecording(input)) {
      for (const run of runs) {
        const result = run.pipeline.run(snapshot, run.state, { decisions: false });
        run.state = result.state;
        run.summary.add(result.kpis);
        if (out && !out.write(JSON.stringify(toOtlpJson(result.batch.resources, result.batch, temporality)) + '\n')) await once(out, 'drain');
      }
    }
  } finally {
    if (out) await closeStream(out);
  }
  return runs.map((r) => r.summary.result());
}

export function renderSummaries(summaries: ProfileSummary[], config: Config, width?: number): string {
  const cur = config.cost_model.currency;
  const header = ['profile', 'intervals', 'baseline datapoints', 'datapoints exported', 'datapoints reduction', 'billed bytes reduction', `baseline ${cur}/month`, `exported ${cur}/month`, 'critical coverage min', 'visibility', 'totals error max', 'series churn'];
  const base = moneyColumn(summaries.map((s) => s.cost_per_month_baseline));
  const exported = moneyColumn(summaries.map((s) => s.cost_per_month_optimized));
  const rows = summaries.map((s, i) => [
    s.profile,
    String(s.intervals),
    String(s.datapoints_baseline),
    String(s.datapoints_exported),
    formatPercent(s.reduction_datapoints),
    formatPercent(s.reduction_bytes),
    base[i]!,
    exported[i]!,
    formatPercent(s.coverage_critical_min),
    formatPercent(Math.min(s.visibility_cpu_mean, s.visibility_memory_mean)),
    formatPercent(s.totals_error_max),
    s.series_churn.toFixed(2),
  ]);
  const model = config.cost_model.billing_model === 'bytes' ? `bytes at ${config.cost_model.per_gb} ${cur}/GB` : `datapoints at ${config.cost_model.per_million_datapoints} ${cur}/million`;
  const notes = [
    `Cost model: ${model}; a month is 730 h.`,
    'Visibility: the mean share of CPU and of memory in individual series, the smaller of the two.',
    'Series churn: distinct series over 24 h per series exported in an interval (1.00: the same series all day).',
    ...(summaries.some((s) => s.reduction_datapoints < 0) ? [`A negative reduction is ${ABOVE_BASELINE}.`] : []),
  ];
  // Narrow terminals: the totals error goes first (it is 0 unless something is wrong), then the volumes (the reductions say it).
  const table = formatTable(header, rows, { width, drop: [10, 2, 3, 1, 5] });
  return `${table}\n\n${paragraph(notes.join(' '), width)}`;
}


/** The summary of a control run, then its timeline of changes. */
export function renderControlRun(run: ControlRun, config: Config, input: string): string {
  const c = config.cost_model.currency;
  if (run.intervals === 0) return `${input}: no snapshots`;
  // One precision for every hourly amount of the run (3 significant digits of the smallest), one for the monthly ones.
  const hourly = [run.cost_per_hour_mean, run.cost_per_hour_max, run.cost_per_hour_baseline_mean, run.budget.kind === 'absolute' ? run.budget.per_hour : run.budget_per_hour_mean];
  const smallest = Math.min(...hourly.filter((v) => v > 0));
  const digits = Number.isFinite(smallest) ? Math.min(8, Math.max(2, 2 - Math.floor(Math.log10(smallest)))) : 2;
  const usdh = (v: number, currency: string): string => `${v.toFixed(digits)} ${currency}/h`;
  const [month, baseMonth] = moneyColumn([run.cost_per_hour_mean * 730, run.cost_per_hour_baseline_mean * 730]);
  const budget = run.budget.kind === 'absolute' ? `absolute, ${usdh(run.budget.per_hour, c)}` : `relative, ${formatPercent(1 - run.budget.target_reduction)} of the baseline's cost (mean ${usdh(run.budget_per_hour_mean, c)})`;
  const share = Object.entries(run.profiles)
    .sort((a, b) => b[1] - a[1])
    .map(([p, n]) => `${p} ${formatPercent(n / run.intervals)}`)
    .join(', ');
  const who = (w: string): number => run.timeline.filter((e) => e.who === w).length;
  const alerts = Object.entries(run.alerts).map(([e, n]) => `${e} ${n}`).join(', ') || 'none';
  const model = config.cost_model.billing_model === 'bytes' ? `bytes at ${config.cost_model.per_gb} ${c}/GB` : `datapoints at ${config.cost_model.per_million_datapoints} ${c}/million`;
  const rows: Array<[string, string]> = [
    ['recording', `${input}: ${run.intervals} intervals, ${formatTime(run.start)} to ${formatTime(run.end)} (${formatDuration(run.end - run.start)})`],
    ['cost model', `${model}; a month is 730 h`],
    ['started from', `${run.initial} (state.active_profile)`],
    ['budget', budget],
    ['within budget', `${run.within_budget} of ${run.intervals} intervals (${formatPercent(run.within_budget / run.intervals)})`],
    ['profile changes', `${run.changes} (control loop ${who('control loop')}, emergency guard ${who('emergency guard')}, schedule ${who('schedule')})`],
    ['time in profile', share],
    ['cost', `mean ${usdh(run.cost_per_hour_mean, c)} (${month} ${c}/month), max ${usdh(run.cost_per_hour_max, c)}; baseline ${usdh(run.cost_per_hour_baseline_mean, c)} (${baseMonth} ${c}/month)`],
    ['datapoints', versusBaseline(run.datapoints_exported, run.datapoints_baseline)],
    ['critical coverage', run.coverage_critical_min === null ? 'n/a (no critical process)' : `min ${formatPercent(run.coverage_critical_min)}`],
    ['visibility', `mean ${formatPercent(run.visibility_mean)}, min ${formatPercent(run.visibility_min)}`],
    ['checks', `${run.checks} (${Object.entries(run.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')})`],
    ['alerts', alerts],
  ];
  const summary = keyValues(rows);
  if (run.timeline.length === 0) return `${summary}\n\nno profile change`;
  const timeline = formatTable(['time', 'from', 'to', 'by', 'reason'], run.timeline.map((e) => [formatTime(e.time), e.from, e.to, e.who, e.reason]), { wrap: [4] });
  return `${summary}\n\n${timeline}`;
}
