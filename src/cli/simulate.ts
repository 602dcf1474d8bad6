/**
 * `nrdot-plus-ctl simulate`: streams a recording through each profile independently (one pass, one
 * pipeline and state per profile) and compares them with the baseline side by side.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type PipelineState } from '../pipeline/index.js';
import { Summary, type ProfileSummary } from '../pipeline/summary.js';
import { readRecording } from '../snapshot/recording.js';
import { CONFIG_OPTION } from './config.js';
import { UsageError, UserError } from './errors.js';
import { configure } from './program.js';
import { formatTable } from './table.js';
import { runControlOffline, type ControlRun } from '../control/offline.js';
import { formatDuration, formatPercent, formatTime, keyValues } from './style.js';

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
    if (!Object.hasOwn(config.profiles, name)) throw new UsageError(`${one !== undefined ? '--profile' : '--profiles'}: no profile named "${name}" (profiles: ${all.join(', ')})`);
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

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const money = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(4));

export function renderSummaries(summaries: ProfileSummary[], config: Config): string {
  const header = ['profile', 'intervals', 'datapoints', 'exported', 'reduction', 'billed bytes red.', `${config.cost_model.currency}/month base`, 'optimized', 'critical cov. min', 'visibility', 'totals err max', 'churn'];
  const rows = summaries.map((s) => [
    s.profile,
    String(s.intervals),
    String(s.datapoints_baseline),
    String(s.datapoints_exported),
    pct(s.reduction_datapoints),
    pct(s.reduction_bytes),
    money(s.cost_per_month_baseline),
    money(s.cost_per_month_optimized),
    s.coverage_critical_min === null ? 'n/a' : pct(s.coverage_critical_min),
    pct(Math.min(s.visibility_cpu_mean, s.visibility_memory_mean)),
    pct(s.totals_error_max),
    s.series_churn.toFixed(2),
  ]);
  const model = config.cost_model.billing_model === 'bytes' ? `bytes at ${config.cost_model.per_gb} ${config.cost_model.currency}/GB` : `datapoints at ${config.cost_model.per_million_datapoints} ${config.cost_model.currency}/million`;
  return `${formatTable(header, rows)}\n\ncost model: ${model}; a month is 730 h. Visibility: mean share of CPU and memory in individual series (the smaller).`;
}

const usdh = (v: number, currency: string): string => `${v < 0.01 ? v.toFixed(6) : v.toFixed(4)} ${currency}/h`;

/** The summary of a control run, then its timeline of changes. */
export function renderControlRun(run: ControlRun, config: Config, input: string): string {
  const c = config.cost_model.currency;
  if (run.intervals === 0) return `${input}: no snapshots`;
  const month = (perHour: number): string => money(perHour * 730);
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
    ['cost', `mean ${usdh(run.cost_per_hour_mean, c)} (${month(run.cost_per_hour_mean)} ${c}/month), max ${usdh(run.cost_per_hour_max, c)}; baseline ${usdh(run.cost_per_hour_baseline_mean, c)} (${month(run.cost_per_hour_baseline_mean)} ${c}/month)`],
    ['datapoints', `${run.datapoints_exported} of ${run.datapoints_baseline} (-${formatPercent(1 - run.datapoints_exported / Math.max(1, run.datapoints_baseline))})`],
    ['critical coverage', run.coverage_critical_min === null ? 'n/a (no critical process)' : `min ${formatPercent(run.coverage_critical_min)}`],
    ['visibility', `mean ${formatPercent(run.visibility_mean)}, min ${formatPercent(run.visibility_min)}`],
    ['checks', `${run.checks} (${Object.entries(run.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')})`],
    ['alerts', alerts],
  ];
  const summary = keyValues(rows);
  if (run.timeline.length === 0) return `${summary}\n\nno profile change`;
  const timeline = formatTable(['time', 'from', 'to', 'by', 'reason'], run.timeline.map((e) => [formatTime(e.time), e.from, e.to, e.who, e.reason]));
  return `${summary}\n\n${timeline}`;
}
