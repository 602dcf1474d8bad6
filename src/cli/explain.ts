/**
 * `nrdot-plus-ctl explain PID|NAME [--input FILE]`: why a process was kept or rolled up, with the
 * numbers: live from the running agent's latest interval, or offline in an interval of a recording.
 */
import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { emptyState, Pipeline, type Decision, type Missed } from '../pipeline/index.js';
import { readRecording } from '../snapshot/recording.js';
import { CONFIG_OPTION, countArg } from '../command/options.js';
import { UsageError, UserError } from '../command/errors.js';
import { connectDaemon } from './client.js';
import { configure } from '../command/program.js';
import { writeJson } from './style.js';
import { chooseProfiles } from './simulate.js';

interface ExplainOptions {
  input?: string;
  at?: number;
  profile?: string;
  config?: string;
  json?: boolean;
}

export function explainCommand(): Command {
  return configure(new Command('explain'))
    .description('explain the decision for a process (by pid or name): live in the running agent, or in an interval of a recording')
    .argument('<pid|name>', 'process id, or process name (all processes of that name)')
    .option('-i, --input <file>', 'a recording to replay instead of asking the running agent')
    .option('--at <index>', 'with --input: interval to explain, 1 = first snapshot (default: the last)', (v) => countArg(v))
    .option('--profile <name>', 'with --input: profile (default: the configured active profile)')
    .option(...CONFIG_OPTION)
    .option('--json', 'print as JSON')
    .action(async (target: string, opts: ExplainOptions) => {
      if (opts.input === undefined) {
        if (opts.at !== undefined || opts.profile !== undefined) throw new UsageError('--at and --profile go with --input FILE; live, the agent explains its latest interval');
        const r = await connectDaemon().get<{ timestamp: number; profile: string; decisions: Decision[] }>(`/api/v1/processes/${encodeURIComponent(target)}`);
        if (opts.json) return writeJson({ live: true, ...r });
        process.stdout.write(`profile ${r.profile}, latest interval (${new Date(r.timestamp * 1000).toISOString()})\n\n${renderDecisions(r.decisions)}\n`);
        return;
      }
      const { config } = loadConfig(opts.config);
      const [profile] = chooseProfiles(config, opts.profile ?? config.state.active_profile);
      const pipeline = new Pipeline(config, profile!);
      let state = emptyState();
      let decisions: Decision[] = [];
      let index = 0;
      let timestamp = 0;
      for await (const snapshot of readRecording(opts.input)) {
        const r = pipeline.run(snapshot, state);
        state = r.state;
        decisions = r.decisions;
        timestamp = snapshot.timestamp;
        if (++index === opts.at) break;
      }
      if (opts.at !== undefined && index < opts.at) throw new UsageError(`--at ${opts.at}: the recording has ${index} snapshots`);
      const pid = /^\d+$/.test(target) ? Number(target) : null;
      const found = decisions.filter((d) => (pid !== null ? d.pid === pid : d.name === target));
      if (found.length === 0) throw new UserError(`no process ${pid !== null ? `with pid ${pid}` : `named "${target}"`} in snapshot ${index} of ${opts.input}`);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ profile, snapshot: index, timestamp, decisions: found }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`profile ${profile}, snapshot ${index} (${new Date(timestamp * 1000).toISOString()})\n\n${renderDecisions(found)}\n`);
    });
}

export function renderDecisions(found: Decision[]): string {
  return found
    .map((d) =>
        [
          `pid ${d.pid} (${d.name}), started ${new Date(d.startTime * 1000).toISOString()}`,
          `  decision:   ${d.action} (${d.reason})${d.action === 'keep' ? `, ${d.series} series` : ''}`,
          `  tier:       ${d.tier}, importance ${d.importance}`,
          `  usage:      CPU ${d.cpuPercent.toFixed(1)}% of a core, RSS ${(d.rssBytes / 1048576).toFixed(1)} MB, IO ${(d.ioBytesPerSec / 1024).toFixed(1)} KB/s${d.seenBefore ? '' : ' (since start: first sighting)'}`,
          `  composite:  ${(d.composite * 100).toFixed(2)}% of the host's usage`,
          d.missed ? `  missed:     ${describeMissed(d, d.missed)}` : '',
          d.anomalyUntil !== null ? `  anomaly:    retained until ${new Date(d.anomalyUntil * 1000).toISOString()}` : '',
        ].filter(Boolean).join('\n'),
    )
    .join('\n\n');
}

/**
 * Which rules a rolled-up process missed, and by how much: "CPU 1.2% < 10%, RSS 20.1 MB < 100 MB,
 * IO 0.0 KB/s < 1000 KB/s; composite 5.20%, rank 7 of 12 in default, top-2", and why when the figures
 * do not say it ("...; rank 2 of 12 in default, top-2; an incumbent kept its place (a challenger needs +25%)").
 */
export function describeMissed(d: Decision, m: Missed): string {
  if (m.dropped === 'young') return 'younger than one interval: thresholds and top-K apply from its second interval';
  const vs = (label: string, value: number, unit: string, threshold: number): string => `${label} ${value.toFixed(1)}${unit} ${value >= threshold ? '>=' : '<'} ${threshold}${unit}`;
  const thresholds = [
    vs('CPU', d.cpuPercent, '%', m.thresholds.cpu_percent),
    vs('RSS', d.rssBytes / 1048576, ' MB', m.thresholds.memory_mb),
    vs('IO', d.ioBytesPerSec / 1024, ' KB/s', m.thresholds.io_kb_per_sec),
  ].join(', ');
  const composite = `composite ${(d.composite * 100).toFixed(2)}%`;
  // Its rank, when it was a top-K candidate, and where it left the path (the rank says it when outside the K).
  const rank = m.top_k === null || m.top_k.k === 0 ? '' : `rank ${m.top_k.rank} of ${m.top_k.candidates} in ${m.top_k.tier}, top-${m.top_k.k}`;
  const why = rank && m.dropped === 'rank' ? '' : m.why;
  return `${thresholds}; ${composite}, ${[rank, why].filter(Boolean).join('; ')}`;
}

