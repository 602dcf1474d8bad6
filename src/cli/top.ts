/**
 * `nrdot-plus-ctl top [--watch]`: the running agent's processes by usage, kept or rolled up, with the
 * reasons. --watch refreshes every interval: on a terminal in place (alternate screen, keys to sort,
 * q to quit, the screen restored on exit); in a pipe, one block per refresh.
 */
import { Command, Option } from 'commander';
import type { Decision } from '../pipeline/index.js';
import { connectDaemon, type DaemonClient } from './client.js';
import { countArg } from '../command/options.js';
import { configure } from '../command/program.js';
import { formatBytes, green, writeJson } from './style.js';
import { formatTable, paragraph, terminalWidth } from './table.js';

interface ProcessesAnswer {
  timestamp: number | null;
  profile: string;
  total: number;
  processes: Decision[];
}

interface TopOptions {
  limit: number;
  action?: string;
  tier?: string;
  json?: boolean;
  watch?: boolean;
  sort: SortKey;
}

/** Orders: usage is the agent's (the share of the host's CPU, memory and IO, as it decides). */
export const SORT_KEYS = ['usage', 'cpu', 'memory', 'io', 'name', 'pid'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** The key that switches to each order while watching (the first letter, as in htop). */
const KEYS: Record<string, SortKey> = { u: 'usage', c: 'cpu', m: 'memory', i: 'io', n: 'name', p: 'pid' };
const KEY_HELP = 'keys: u usage, c cpu, m memory, i io, n name, p pid, q quit';

const ORDER: Record<SortKey, (a: Decision, b: Decision) => number> = {
  usage: (a, b) => b.composite - a.composite || a.pid - b.pid,
  cpu: (a, b) => b.cpuPercent - a.cpuPercent || a.pid - b.pid,
  memory: (a, b) => b.rssBytes - a.rssBytes || a.pid - b.pid,
  io: (a, b) => b.ioBytesPerSec - a.ioBytesPerSec || a.pid - b.pid,
  name: (a, b) => a.name.localeCompare(b.name) || a.pid - b.pid,
  pid: (a, b) => a.pid - b.pid,
};

/** What a key pressed while watching does: a new order, quit, or nothing. */
export function keyAction(key: string): SortKey | 'quit' | null {
  if (key === 'q' || key === 'Q' || key === '\x03') return 'quit';
  return KEYS[key.toLowerCase()] ?? null;
}

/** The processes in an order, the first `limit` of them. */
export function sortProcesses(list: readonly Decision[], sort: SortKey, limit: number): Decision[] {
  return [...list].sort(ORDER[sort]).slice(0, limit);
}

/** One screen of `top`: a title line, a blank line and the table. */
export function renderTop(r: ProcessesAnswer, sort: SortKey, limit: number, width: number, help = ''): string {
  if (r.timestamp === null) return `no interval collected yet${help ? `\n${help}` : ''}`;
  const shown = sortProcesses(r.processes, sort, limit);
  const header = ['PID', 'NAME', 'TIER', 'IMP', 'CPU %', 'RSS', 'IO KB/s', 'DECISION', 'REASON'];
  const rows = shown.map((d) => [
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
  const title = paragraph(`${time}, profile ${r.profile}: ${shown.length} of ${r.total} processes, by ${sort}${help ? `; ${help}` : ''}`, width);
  // The reason is the longest and says the least at a glance: it goes first, then the importance.
  return `${title}\n\n${formatTable(header, rows, { width, drop: [8, 3, 2] })}`;
}

export function topCommand(): Command {
  return configure(new Command('top'))
    .description('the running agent\'s processes by share of the host\'s usage in the latest interval, with their decisions and reasons')
    .option('-n, --limit <count>', 'how many processes (with --watch on a terminal, at most a screenful)', countArg, 20)
    .addOption(new Option('--action <action>', 'only those kept, sampled or rolled up').choices(['keep', 'sample', 'rollup']))
    .option('--tier <tier>', 'only this tier')
    .addOption(new Option('--sort <key>', 'order: usage (the agent\'s share of CPU, memory and IO), cpu, memory, io, name or pid').choices(SORT_KEYS).default('usage'))
    .option('-w, --watch', `refresh every interval until q or Ctrl-C; on a terminal in place (${KEY_HELP})`)
    .option('--json', 'print as JSON')
    .action(async (opts: TopOptions) => {
      const daemon = connectDaemon();
      if (opts.watch) return watch(daemon, opts);
      const r = await fetchProcesses(daemon, opts);
      if (opts.json) return writeJson({ ...r, processes: r.timestamp === null ? r.processes : sortProcesses(r.processes, opts.sort, opts.limit) });
      process.stdout.write(renderTop(r, opts.sort, opts.limit, terminalWidth()) + '\n');
    });
}

/** The latest interval's processes: the agent's first `limit` by usage, or all of them for another order. */
function fetchProcesses(daemon: DaemonClient, opts: TopOptions): Promise<ProcessesAnswer> {
  const q = new URLSearchParams(opts.sort === 'usage' && !opts.watch ? { limit: String(opts.limit) } : {});
  if (opts.action) q.set('action', opts.action);
  if (opts.tier) q.set('tier', opts.tier);
  return daemon.get<ProcessesAnswer>(`/api/v1/processes${q.size > 0 ? `?${q.toString()}` : ''}`);
}

async function watch(daemon: DaemonClient, opts: TopOptions): Promise<void> {
  const { interval_s: interval } = await daemon.get<{ interval_s: number }>('/api/v1/status');
  const out = process.stdout;
  const tty = out.isTTY === true;
  const keys = tty && process.stdin.isTTY === true;
  let sort = opts.sort;
  let last: ProcessesAnswer | null = null;
  let lastDrawn: number | null = null;
  let done = false;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = () => ((done = true), resolve())));
  const draw = (): void => {
    if (!last || done) return; // an answer that arrives after the screen was restored is not drawn
    if (!tty) {
      if (last.timestamp === lastDrawn) return; // a pipe gets each interval once
      out.write(`${renderTop(last, sort, opts.limit, terminalWidth())}\n\n`);
    } else {
      // A screenful: what does not fit the terminal's height is cut (the last processes).
      const height = out.rows || 24;
      const screen = renderTop(last, sort, opts.limit, terminalWidth(), keys ? KEY_HELP : 'Ctrl-C quits').split('\n').slice(0, height);
      out.write(`\x1b[H\x1b[2J${screen.join('\n')}`);
    }
    lastDrawn = last.timestamp;
  };
  const onKey = (data: Buffer): void => {
    for (const key of data.toString('utf8')) {
      const action = keyAction(key);
      if (action === 'quit') stop();
      else if (action) {
        sort = action;
        draw();
      }
    }
  };
  const onPipeClosed = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') stop();
  };
  if (tty) out.write('\x1b[?1049h\x1b[?25l'); // alternate screen, no cursor
  if (keys) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  out.on('resize', draw);
  out.on('error', onPipeClosed);
  let timer: NodeJS.Timeout | undefined;
  try {
    const refresh = async (): Promise<void> => {
      last = await fetchProcesses(daemon, opts);
      draw();
    };
    await refresh();
    // Every interval (at least every second): a new interval is drawn as soon as it is seen. The next
    // request waits for the previous answer, so a slow agent never has several in flight.
    const period = Math.max(1, Math.min(interval, 5)) * 1000;
    const failure = new Promise<never>((_, reject) => {
      const next = (): void => {
        timer = setTimeout(() => refresh().then(() => done || next(), reject), period);
      };
      next();
    });
    await Promise.race([stopped, failure]);
  } finally {
    done = true;
    clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    out.off('resize', draw);
    out.off('error', onPipeClosed);
    if (keys) {
      process.stdin.off('data', onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    if (tty) out.write('\x1b[?25h\x1b[?1049l');
  }
}
