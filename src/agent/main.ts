/**
 * `nrdot-plus`: the agent. Every interval it reads a snapshot of every process, runs it through the
 * optimizer with the active profile, hands the result to the exporters (OTLP/HTTP through the durable
 * queue, a file, `/metrics`), and logs one line.
 */
import { appendFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { CONFIG_OPTION } from '../cli/config.js';
import { EXIT, UsageError, UserError } from '../cli/errors.js';
import { DurableQueue, FileExporter } from '../export/index.js';
import { DeliveryMetrics, OtlpHttpSender } from '../export/otlp-http.js';
import { resolveOtlp } from '../export/otlp-settings.js';
import { startListener, type Listener } from '../api/server.js';
import { Optimizer, type OtlpExport } from './optimizer.js';
import { collectionInterval, envBoolean, procfsRoot, secondsArg } from '../cli/options.js';
import { configure, runProgram } from '../cli/program.js';
import { installCommand, uninstallCommand } from './install.js';
import { openReader } from '../cli/snapshot.js';
import { VERSION } from '../version.js';
import { Collector } from './collector.js';
import { createLogger, type Logger } from './log.js';

interface AgentOptions {
  config?: string;
  profile?: string;
  procfs?: string;
  interval?: number;
  logPermissionErrors?: boolean;
  once?: boolean;
}

/** Most permission errors one interval logs when they are not muted. */
const PERMISSION_DETAILS_PER_INTERVAL = 50;

export function buildAgentProgram(): Command {
  return configure(new Command('nrdot-plus'))
    .description('NRDOT-Plus agent: per-process host metrics, optimized. Runs until SIGTERM or Ctrl-C.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--procfs <dir>', 'procfs root to read (env NRDOT_PROCFS)').default(undefined, '/proc'))
    .addOption(
      new Option('--interval <seconds>', 'collection interval, 1 or more (env NRDOT_COLLECTION_INTERVAL)')
        .argParser(secondsArg(1))
        .default(undefined, '60'),
    )
    .option(
      '--log-permission-errors',
      'log each permission error instead of counting them (env NRDOT_MUTE_PERMISSION_ERRORS=false)',
    )
    .option(...CONFIG_OPTION)
    .option('--profile <name>', 'optimization profile (default: state.active_profile of the configuration)')
    .option('--once', 'collect one interval and exit')
    .action(async (opts: AgentOptions) => {
      await runAgent(opts);
    })
    .addCommand(installCommand())
    .addCommand(uninstallCommand());
}

async function runAgent(opts: AgentOptions): Promise<void> {
  const intervalSeconds = collectionInterval(opts.interval);
  const root = procfsRoot(opts.procfs);
  const mute = envBoolean('NRDOT_MUTE_PERMISSION_ERRORS');
  const logPermissionErrors = opts.logPermissionErrors ?? mute === false;
  const { config, file: configFile } = loadConfig(opts.config);
  const profile = opts.profile ?? config.state.active_profile;
  if (!config.profiles[profile]) {
    throw new UsageError(`--profile: no profile named "${profile}" (profiles: ${Object.keys(config.profiles).join(', ')})`);
  }
  const log = createLogger();
  const exportPath = config.exporters.file.path;
  let file: FileExporter | null = null;
  if (exportPath !== '') {
    try {
      appendFileSync(exportPath, ''); // can we write there at all? Say so now, not at every interval
    } catch (err) {
      throw new UserError(`exporters.file.path ${exportPath}: ${(err as Error).message}`);
    }
    file = new FileExporter({ path: exportPath, maxBytes: config.exporters.file.max_mb * 1e6 });
  }
  const { otlp, announce } = openOtlp(config, intervalSeconds, log);
  const optimizer = new Optimizer(config, profile, { file, otlp });
  const reader = openReader(root, intervalSeconds, logPermissionErrors ? PERMISSION_DETAILS_PER_INTERVAL : 0);
  const collector = new Collector({ reader, intervalSeconds, log, logPermissionErrors, optimizer });
  if (opts.once) {
    announce();
    const ok = collector.collectOnce();
    reader.close();
    if (otlp) {
      await otlp.sender.flush();
      await otlp.sender.stop();
      otlp.queue.close();
      if (otlp.queue.depth > 0) {
        log.warn({ queued_batches: otlp.queue.depth, queue: otlp.settings.queueDir }, `${otlp.queue.depth} batches stay queued for the next run`);
      }
    }
    if (!ok) process.exitCode = EXIT.error;
    return;
  }
  const exporting = [otlp ? `, sending OTLP to ${otlp.settings.url}` : '', file ? `, writing OTLP JSON to ${file.path}` : ''].join('');
  const listen = process.env.NRDOT_HTTP_ADDR || config.server.listen;
  const source = process.env.NRDOT_HTTP_ADDR ? 'NRDOT_HTTP_ADDR' : 'server.listen';
  let listener: Listener;
  try {
    listener = await startListener(listen, () => optimizer.prometheusText);
  } catch (err) {
    reader.close();
    await otlp?.sender.stop();
    otlp?.queue.close();
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new UserError(`${source} ${listen}: ${why}`);
  }
  log.info(
    { version: VERSION, procfs: root, interval_s: intervalSeconds, config: configFile ?? 'embedded defaults', profile, otlp_endpoint: otlp?.settings.url ?? null, file_export: file?.path ?? null, listen: listener.address },
    `nrdot-plus ${VERSION} started: reading ${root} every ${intervalSeconds} s, profile ${profile}${exporting}; Prometheus metrics at http://${listener.address}/metrics`,
  );
  announce();
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      collector.stop();
      void Promise.all([listener.close(), otlp?.sender.stop()])
        .catch((err: Error) => log.error({ err }, `while stopping: ${err.message}`))
        .finally(() => {
          otlp?.queue.close();
          log.info({ signal }, `stopped on ${signal}`);
          resolve();
        });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    collector.start();
    otlp?.sender.start();
  });
}

/**
 * The OTLP/HTTP exporter, or null when no endpoint and no license key are configured; announce()
 * logs which, once, after the start line.
 */
function openOtlp(config: Config, intervalSeconds: number, log: Logger): { otlp: OtlpExport | null; announce: () => void } {
  const resolved = resolveOtlp(config, intervalSeconds);
  if (!resolved.enabled) {
    return { otlp: null, announce: () => log.info({ otlp_endpoint: null }, `OTLP export is off: ${resolved.reason}; files and /metrics still work`) };
  }
  const settings = resolved.settings;
  let queue: DurableQueue;
  try {
    queue = new DurableQueue({ dir: settings.queueDir, maxBytes: settings.queueMaxBytes });
  } catch (err) {
    throw new UserError(`OTLP queue ${settings.queueDir} (NRDOT_DATA_DIR): ${(err as Error).message}`);
  }
  const sender = new OtlpHttpSender(settings, queue, log);
  const headerNames = Object.keys(settings.headers).sort();
  const announce = (): void => {
    for (const w of settings.warnings) log.warn({ otlp_endpoint: settings.url }, `OTLP export: ${w}`);
    log.info(
      {
        otlp_endpoint: settings.url,
        otlp_endpoint_from: settings.urlSource,
        otlp_headers: headerNames,
        compression: settings.compression,
        temporality: settings.temporality,
        queue: settings.queueDir,
        queued_batches: queue.depth,
      },
      `OTLP export to ${settings.url} (from ${settings.urlSource}), ${settings.compression}, ${settings.temporality} temporality` +
        `${headerNames.length ? `, headers: ${headerNames.join(', ')}` : ''}; queue ${settings.queueDir} holds ${queue.depth} batches`,
    );
  };
  return { otlp: { settings, queue, sender, metrics: new DeliveryMetrics(sender, queue, Date.now() / 1000) }, announce };
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  process.exitCode = await runProgram(buildAgentProgram(), argv);
}
