/**
 * `nrdot-plus-ctl simulate`: streams a recording through each profile independently (one pass, one
 * pipeline and state per profile) and compares them with the baseline side by side.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { toOtlpJson } from '../otlp/encode.js';
import { emptyState, Pipeline, type PipelineState } from '../pipeline/index.js';
import { Summary, type ProfileSummary } from '../pipeline/summary.js';
import { readRecording } from '../snapshot/recording.js';
import { CONFIG_OPTION } from './config.js';
import { UsageError, UserError } from './errors.js';
import { configure } from './program.js';
import { formatTable } from './table.js';

interface SimulateOptions {
  input: string;
  config?: string;
  profile?: string;
  profiles?: string;
  json?: boolean;
  exportFile?: string;
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
    .addOption(new Option('--export-file <file>', 'write what would be exported, OTLP JSON, one request per interval per line (one profile)'))
    .action(async (opts: SimulateOptions) => {
      const { config } = loadConfig(opts.config);
      const profiles = chooseProfiles(config, opts.profile, opts.profiles);
      if (opts.exportFile !== undefined && profiles.length !== 1) throw new UsageError('--export-file: choose exactly one profile with --profile');
      const summaries = await simulate(config, profiles, opts.input, opts.exportFile);
      if (opts.json) process.stdout.write(JSON.stringify({ input: opts.input, profiles: summaries }, null, 2) + '\n');
      else process.stdout.write(renderSummaries(summaries, config) + '\n');
    });
}

export async function simulate(config: Config, profiles: string[], input: string, exportFile?: string): Promise<ProfileSummary[]> {
  const runs = profiles.map((name) => ({ pipeline: new Pipeline(config, name), state: emptyState() as PipelineState, summary: new Summary(name) }));
  let out: WriteStream | null = null;
  if (exportFile !== undefined) {
    out = createWriteStream(exportFile);
    await Promise.race([once(out, 'open'), once(out, 'error').then(([err]) => Promise.reject(new UserError(`--export-file ${exportFile}: ${(err as Error).message}`)))]);
  }
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
    if (out) {
      const closed = once(out, 'close');
      out.end();
      await closed;
    }
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
