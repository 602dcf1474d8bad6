/**
 * `nrdot-plus-ctl status` and `metrics human|json|prometheus`: the running daemon at a glance, and
 * the latest interval's figures. Both ask the daemon (exit 3 when none runs).
 */
import { Argument, Command, Option } from 'commander';
import type { Kpis } from '../pipeline/index.js';
import { connectDaemon } from './client.js';
import { configure } from '../command/program.js';
import { describeInForce, type InForce } from './profile.js';
import { formatBytes, formatDuration, formatReduction, formatUsd, formatVisibility, green, keyValues, red, writeJson, yellow } from './style.js';
import { formatPercent, versusBaseline } from '../command/words.js';

/** The daemon's /api/v1/status answer (the parts the CLI shows). */
export interface Status {
  version: string;
  pid: number;
  uptime_s: number;
  data_dir: string;
  config_file: string | null;
  source: { kind: 'procfs' | 'replay'; location: string; pace: string | null; finished: boolean };
  interval_s: number;
  intervals: number;
  skipped_intervals: number;
  skipped_processes?: number;
  profile: InForce & { name: string };
  control: { running: boolean; stopped: { who: string; reason: string } | null; guard: boolean };
  shadows?: { profiles: string[]; last_cpu_ms: number | null; mean_cpu_ms: number | null };
  kpis: Kpis | null;
  agent: { cpu_percent: number | null; rss_bytes: number; peak_rss_bytes: number };
  export: {
    otlp: { enabled: false } | ({ enabled: true; endpoint: string; queue_batches: number; queue_bytes: number; delivered: number; failed: number; retries: number; dropped: number; lost: number; last_delivered: string | null } & Health);
    file: ({ path: string } & Health) | null;
    prometheus: string | null;
  };
  store: { path: string } & Health;
  reloads: { ok: number; failed: number; last_error: string | null };
  fleet?: FleetStatus;
}

/** The hub connection (src/agent/fleet.ts status()). */
export type FleetStatus =
  | { enabled: false }
  | {
      enabled: true;
      endpoint: string;
      transport: string;
      connected: boolean;
      last_contact: string | null;
      last_error: string | null;
      instance_uid: string;
      remote_config: { status: string; hash: string | null; error: string | null; fragments: string[] };
      fleet_pin: { profile: string; until: number | null; by: string; reason: string } | null;
      control_loop: 'on' | 'off' | null;
    };

function describeFleet(f: FleetStatus): string {
  if (!f.enabled) return 'off (no fleet.endpoint / NRDOT_OPAMP_ENDPOINT)';
  const link = f.connected ? green(`connected, last contact ${f.last_contact}`) : red(`not connected${f.last_error ? `: ${f.last_error}` : ''}${f.last_contact ? ` (last contact ${f.last_contact})` : ''}`);
  const rc = f.remote_config;
  const config = rc.status === 'UNSET' ? 'no remote config yet' : `remote config ${rc.status === 'FAILED' ? red(`FAILED: ${rc.error?.split('\n')[0] ?? ''}`) : rc.status === 'APPLYING' ? yellow(`APPLYING (${rc.error ?? ''})`) : green('APPLIED')}${rc.fragments.length ? ` (${rc.fragments.join(', ')})` : ''}`;
  const pin = f.fleet_pin ? `; fleet pin ${f.fleet_pin.profile} by ${f.fleet_pin.by}` : '';
  return `${f.endpoint} (${f.transport}), instance ${f.instance_uid}: ${link}; ${config}${pin}`;
}

/** An exporter's or the store's health (src/export/health.ts). */
interface Health {
  failing: boolean;
  failing_since: string | null;
  last_error: string | null;
  intervals_failed: number;
}

function failing(h: Health): string {
  return red(`failing since ${h.failing_since}: ${h.last_error}`);
}

export function statusCommand(): Command {
  return configure(new Command('status'))
    .description('the running agent at a glance: profile and why, series, reduction, cost, coverage, own CPU and memory, export health')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const s = await connectDaemon().get<Status>('/api/v1/status');
      if (opts.json) return writeJson(s);
      process.stdout.write(renderStatus(s) + '\n');
    });
}

export function renderStatus(s: Status): string {
  const k = s.kpis;
  const reading = s.source.kind === 'procfs' ? `reading ${s.source.location} every ${s.interval_s} s` : `replaying ${s.source.location} (${s.source.pace})${s.source.finished ? ', finished' : ''}`;
  const rows: Array<[string, string]> = [];
  rows.push(['agent', `nrdot-plus ${s.version}, pid ${s.pid}, up ${formatDuration(s.uptime_s)}, ${reading}; ${s.intervals} intervals${s.skipped_intervals ? `, ${yellow(`${s.skipped_intervals} skipped (overran)`)}` : ''}${s.skipped_processes ? `, ${yellow(`${s.skipped_processes} new processes left out (interval budget)`)}` : ''}`]);
  rows.push(['profile', describeInForce({ ...s.profile, profile: s.profile.name })]);
  const c = s.control;
  const sh = s.shadows;
  if (sh) rows.push(['shadows', sh.profiles.length === 0 ? 'off (advanced.shadow_profiles: [])' : `${sh.profiles.join(', ')}${sh.mean_cpu_ms === null ? '' : `; ${sh.mean_cpu_ms} ms of CPU per interval on average`}; nrdot-plus-ctl profile compare`]);
  rows.push(['control loop', c.running ? `running${c.guard ? yellow(', emergency guard on') : ''}` : yellow(`stopped by ${c.stopped!.who} (${c.stopped!.reason}); nrdot-plus-ctl control start`)]);
  if (k) {
    rows.push(['series', `${k.series_exported} exported, ${k.series_baseline} in the baseline (${k.processes} processes: ${k.kept} kept individually, ${k.rolled_up} rolled up)`]);
    rows.push(['datapoints', versusBaseline(k.datapoints_exported, k.datapoints_baseline)]);
    rows.push(['reduction', `${formatReduction(k.reduction_datapoints)} of datapoints, ${formatReduction(k.reduction_bytes)} of billed bytes`]);
    const [optimized, baseline] = formatUsd([k.cost_per_hour_optimized, k.cost_per_hour_baseline]);
    rows.push(['cost / hour', `${optimized} exported vs ${baseline} baseline`]);
    rows.push(['coverage', k.coverage_critical === null ? 'n/a (no critical process)' : k.coverage_critical >= 1 ? green(`100% of ${k.critical_processes} critical processes`) : red(`${formatPercent(k.coverage_critical)} of ${k.critical_processes} critical processes`)]);
    rows.push(['visibility', formatVisibility(k)]);
  } else {
    rows.push(['series', 'no interval collected yet']);
  }
  rows.push(['agent usage', `CPU ${s.agent.cpu_percent === null ? 'n/a' : `${s.agent.cpu_percent.toFixed(2)}% of a core`}, memory ${formatBytes(s.agent.rss_bytes)} (peak ${formatBytes(s.agent.peak_rss_bytes)})`]);
  const o = s.export.otlp;
  if (o.enabled) {
    const state = o.failing ? failing(o) : green(o.last_delivered ? `healthy, last delivery ${o.last_delivered}` : 'healthy, nothing delivered yet');
    rows.push(['export', `OTLP ${o.endpoint}: ${state}; queue ${o.queue_batches} batches (${formatBytes(o.queue_bytes)}), ${o.delivered} delivered, ${o.failed} failed, ${o.dropped} dropped, ${o.lost ? `${o.lost} lost, ` : ''}${o.retries} retries`]);
  } else {
    rows.push(['export', 'OTLP off (no endpoint, no license key)']);
  }
  const f = s.export.file;
  if (f) rows.push(['', `file ${f.path}: ${f.failing ? failing(f) : green('healthy')}${f.intervals_failed ? `; ${f.intervals_failed} intervals not written` : ''}`]);
  if (s.export.prometheus) rows.push(['', `Prometheus ${s.export.prometheus}`]);
  if (s.store.failing) rows.push(['store', `${s.store.path}: ${failing(s.store)}; KPIs and pipeline state not saved meanwhile`]);
  if (s.fleet) rows.push(['fleet hub', describeFleet(s.fleet)]);
  rows.push(['config', `${s.config_file ?? 'embedded defaults'}${s.reloads.last_error ? `; ${red(`last reload refused: ${s.reloads.last_error.split('\n')[0]}`)}` : ''}`]);
  return keyValues(rows);
}

export function metricsCommand(): Command {
  return configure(new Command('metrics'))
    .description('the latest interval\'s figures from the running agent: human (default), json or prometheus')
    .addArgument(new Argument('[format]', 'human, json or prometheus').choices(['human', 'json', 'prometheus']).default('human'))
    .addOption(new Option('--json', 'same as the json format'))
    .action(async (format: string, opts: { json?: boolean }) => {
      const daemon = connectDaemon();
      if (format === 'prometheus') {
        process.stdout.write(await daemon.text('/metrics'));
        return;
      }
      const { kpis } = await daemon.get<{ kpis: Kpis | null }>('/api/v1/kpis');
      if (format === 'json' || opts.json) return writeJson({ kpis });
      if (!kpis) {
        process.stdout.write('no interval collected yet\n');
        return;
      }
      const cost = formatUsd([kpis.cost_per_hour_optimized, kpis.cost_per_hour_baseline]);
      const rows: Array<[string, string]> = [
        ['time', new Date(kpis.timestamp * 1000).toISOString()],
        ['profile', kpis.profile],
        ['processes', `${kpis.processes} (${kpis.kept} kept individually, ${kpis.rolled_up} rolled up, ${kpis.anomalies} anomalous)`],
        ['series', `${kpis.series_exported} exported, ${kpis.series_baseline} in the baseline; ${kpis.series_unique_24h} distinct over 24 h (churn)`],
        ['datapoints', versusBaseline(kpis.datapoints_exported, kpis.datapoints_baseline)],
        ['billed bytes', versusBaseline(kpis.billed_bytes_exported, kpis.billed_bytes_baseline, '', formatBytes)],
        ['OTLP bytes', `${formatBytes(kpis.bytes_exported)} of ${formatBytes(kpis.bytes_baseline)}`],
        ['cost / hour', `${cost[0]} exported vs ${cost[1]} baseline`],
        ['coverage', kpis.coverage_critical === null ? 'n/a (no critical process)' : `${formatPercent(kpis.coverage_critical)} of ${kpis.critical_processes} critical processes`],
        ['visibility', formatVisibility(kpis)],
        ['totals error', formatPercent(kpis.totals_error, 4)],
        ['agent usage', `CPU ${kpis.agent_cpu_percent === null ? 'n/a' : `${kpis.agent_cpu_percent.toFixed(2)}% of a core`}, memory ${kpis.agent_rss_bytes === null ? 'n/a' : formatBytes(kpis.agent_rss_bytes)}`],
      ];
      process.stdout.write(keyValues(rows) + '\n');
    });
}
