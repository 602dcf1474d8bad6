/** `nrdot-plus-ctl top`: the running agent's processes by usage, kept or rolled up, with the reasons. */
import { Command, Option } from 'commander';
import type { Decision } from '../pipeline/index.js';
import { connectDaemon } from './client.js';
import { countArg } from './options.js';
import { configure } from './program.js';
import { formatBytes, green, writeJson } from './style.js';
import { formatTable } from './table.js';

interface ProcessesAnswer {
  timestamp: number | null;
  profile: string;
  total: number;
  processes: Decision[];
}

export function topCommand(): Command {
  return configure(new Command('top'))
    .description('the running agent\'s processes by share of the host\'s usage in the latest interval, with their decisions and reasons')
    .option('-n, --limit <count>', 'how many processes', countArg, 20)
    .addOption(new Option('--action <action>', 'only those kept, sampled or rolled up').choices(['keep', 'sample', 'rollup']))
    .option('--tier <tier>', 'only this tier')
    .option('--json', 'print as JSON')
    .action(async (opts: { limit: number; action?: string; tier?: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: String(opts.limit) });
      if (opts.action) q.set('action', opts.action);
      if (opts.tier) q.set('tier', opts.tier);
      const r = await connectDaemon().get<ProcessesAnswer>(`/api/v1/processes?${q.toString()}`);
      if (opts.json) return writeJson(r);
      if (r.timestamp === null) {
        process.stdout.write('no interval collected yet\n');
        return;
      }
      const header = ['PID', 'NAME', 'TIER', 'IMP', 'CPU %', 'RSS', 'IO KB/s', 'DECISION', 'REASON'];
      const rows = r.processes.map((d) => [
        String(d.pid),
        d.name,
        d.tier,
        d.importance.toFixed(2),
        d.cpuPercent.toFixed(1),
        formatBytes(d.rssBytes),
        (d.ioBytesPerSec / 1024).toFixed(1),
        d.action === 'keep' ? green(d.action) : d.action,
        d.reason,
      ]);
      const time = new Date(r.timestamp * 1000).toISOString();
      process.stdout.write(`${time}, profile ${r.profile}: ${r.processes.length} of ${r.total} processes\n\n${formatTable(header, rows)}\n`);
    });
}
