/** `nrdot-plus-ctl profile list`: the profiles with their key parameters. */
import { Command } from 'commander';
import { loadConfig, type ProfileConfig } from '../config/index.js';
import { CONFIG_OPTION } from './config.js';
import { configure } from './program.js';
import { formatTable } from './table.js';

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
  return cmd;
}
