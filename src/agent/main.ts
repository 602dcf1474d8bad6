/**
 * `nrdot-plus`: the agent daemon. Every interval it reads a snapshot of every process (or of a
 * recording, --replay), runs it through the optimizer with the profile in force, hands the result to
 * the exporters (OTLP/HTTP through the durable queue, a file, `/metrics`) and keeps the KPIs and the
 * pipeline state in the state store; the local API and the configuration reload run beside it. This
 * file parses the command line and assembles the parts; src/agent/daemon.ts runs them.
 */
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { AGENT_FILE, ensureToken, TOKEN_FILE } from '../api/discovery.js';
import { acquireLock, LockedError } from '../file-lock.js';
import { configLocation, dataDir, loadConfigAt, logFile, unknownProfile, type Config } from '../config/index.js';
import { parseListen } from '../config/listen.js';
import { Redactor } from '../config/secrets.js';
import { describeFileError } from '../file-errors.js';
import type { PipelineState } from '../pipeline/index.js';
import { StateStore } from '../store/index.js';
import { CONFIG_OPTION, envBoolean, MAX_INTERVAL_SECONDS, openReader, procfsRoot, secondsArg } from '../command/options.js';
import { EXIT, UsageError, UserError } from '../command/errors.js';
import { DurableQueue, FileExporter } from '../export/index.js';
import { DeliveryMetrics, OtlpHttpSender } from '../export/otlp-http.js';
import { resolveOtlp } from '../export/otlp-settings.js';
import { openTransport } from '../export/transport.js';
import { Optimizer, type OtlpExport } from './optimizer.js';
import { configure, runProgram } from '../command/program.js';
import { installCommand, uninstallCommand } from './install.js';
import { VERSION } from '../version.js';
import { WebhookSender } from '../alerts/webhook.js';
import { Collector } from './collector.js';
import { storedGuard } from './control.js';
import { Daemon } from './daemon.js';
import { fleetTls, openFleetLayer } from './fleet-layer.js';
import { ShadowProfiles } from './shadows.js';
import { createLogger, LOG_FORMATS, logFormat, logLevel, type Logger } from './log.js';
import { profileInForce } from './profiles.js';
import { ProcfsSource, ReplaySource, type ReplayPace, type SnapshotSource } from './source.js';
import { decodeState } from './state-codec.js';

interface AgentOptions {
  config?: string;
  profile?: string;
  procfs?: string;
  interval?: number;
  logPermissionErrors?: boolean;
  once?: boolean;
  replay?: string;
  logFormat?: string;
  replayPace?: ReplayPace;
}

/** Most permission errors one interval logs when they are not muted. */
const PERMISSION_DETAILS_PER_INTERVAL = 50;
/** A saved pipeline state older than this is not resumed (the anomaly statistics are stale). */
const STATE_MAX_AGE_S = 86400;

export function buildAgentProgram(): Command {
  return configure(new Command('nrdot-plus'))
    .description('NRDOT-Plus agent: per-process host metrics, optimized. Runs until SIGTERM or Ctrl-C; SIGHUP reloads the configuration.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--procfs <dir>', 'procfs root to read (env NRDOT_PROCFS)').default(undefined, '/proc'))
    .addOption(
      new Option('--interval <seconds>', 'collection interval, 1 or more (env NRDOT_COLLECTION_INTERVAL, config cost_model.collection_interval_seconds)')
        .argParser(secondsArg(1, MAX_INTERVAL_SECONDS))
        .default(undefined, '60'),
    )
    .option(
      '--log-permission-errors',
      'log each permission error instead of counting them (env NRDOT_MUTE_PERMISSION_ERRORS=false)',
    )
    .addOption(new Option('--log-format <format>', 'stderr: readable lines (text) or JSON lines; auto is text on a terminal (env NRDOT_LOG_FORMAT; the log file is JSON always)').choices(LOG_FORMATS).default(undefined, 'auto'))
    .option(...CONFIG_OPTION)
    .option('--profile <name>', 'set the active profile at start (kept in the state store; a pin still wins)')
    .option('--once', 'collect one interval and exit')
    .option('--replay <file>', 'read snapshots from a recording instead of /proc (time from the snapshots)')
    .addOption(new Option('--replay-pace <pace>', 'with --replay: at the recorded pace, or as fast as possible').choices(['recorded', 'fast']).default('recorded'))
    .action(async (opts: AgentOptions) => {
      await runAgent(opts);
    })
    .addCommand(installCommand())
    .addCommand(uninstallCommand());
}

async function runAgent(opts: AgentOptions): Promise<void> {
  // One listener per signal for the whole run, installed first: a signal caught by a listener that
  // is then removed is lost, and a signal before any listener kills the agent half-way. Until the
  // agent runs, signals are kept (a stop or reload asked for while starting happens once started).
  const signals = new Signals();
  const dispatch = (signal: NodeJS.Signals): void => signals.deliver(signal);
  for (const signal of SIGNALS) process.on(signal, dispatch);
  try {
    await startAgent(opts, signals);
  } finally {
    for (const signal of SIGNALS) process.off(signal, dispatch);
  }
}

const SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT'] as const;

/** Signals kept until a handler is set, then handed to it (kept ones first). */
class Signals {
  private kept: NodeJS.Signals[] = [];
  private handler: ((signal: NodeJS.Signals) => void) | null = null;

  deliver(signal: NodeJS.Signals): void {
    if (this.handler) this.handler(signal);
    else this.kept.push(signal);
  }

  handle(handler: (signal: NodeJS.Signals) => void): void {
    this.handler = handler;
    const kept = this.kept;
    this.kept = [];
    // A stop asked for while starting wins over a reload.
    const stop = kept.find((s) => s !== 'SIGHUP');
    if (stop) handler(stop);
    else if (kept.length > 0) handler('SIGHUP');
  }
}

async function startAgent(opts: AgentOptions, signals: Signals): Promise<void> {
  const mute = envBoolean('NRDOT_MUTE_PERMISSION_ERRORS');
  const logPermissionErrors = opts.logPermissionErrors ?? mute === false;
  const location = configLocation(opts.config);
  let { config, file: configFile, env } = loadConfigAt(location);
  if (opts.profile !== undefined && !Object.hasOwn(config.profiles, opts.profile)) {
    throw new UsageError(`--profile: ${unknownProfile(opts.profile, Object.keys(config.profiles))}`);
  }
  const tls = config.fleet.endpoint ? fleetTls(config) : {};
  const { home, unlock } = openDataDir();
  // One redaction for every output: the log, the exporter's and webhooks' errors, the API's answers.
  const redactor = Redactor.of(config, process.env);
  const log = createLogger(logLevel(), { file: logFile(), redactor, format: logFormat(opts.logFormat) });
  const store = openStore(home);
  // The last good fleet layer is in force from the start, before the hub answers (SPEC "Fleet").
  const fleetStart = openFleetLayer(store, config, location, log);
  if (fleetStart.loaded) {
    ({ config, file: configFile, env } = fleetStart.loaded);
    redactor.addConfig(config, process.env);
  }
  if (opts.interval !== undefined) config.cost_model.collection_interval_seconds = opts.interval;
  const intervalSeconds = config.cost_model.collection_interval_seconds;
  let source: SnapshotSource;
  try {
    source = await openSource(opts, intervalSeconds, logPermissionErrors, log);
  } catch (err) {
    store.close();
    throw err;
  }
  const now = Date.now() / 1000;
  if (store.profileState().active === null) {
    // The configuration's profile is only the first-start default; from now on the store's is in force.
    store.setActiveProfile(config.state.active_profile, { time: now, who: 'nrdot-plus', reason: 'first start: the configuration\'s state.active_profile' });
  }
  if (opts.profile !== undefined) store.setActiveProfile(opts.profile, { time: now, who: 'nrdot-plus --profile', reason: 'set at start' });
  const profile = profileInForce(store.profileState(), config, now, storedGuard(store), fleetStart.layer.directives.pin).profile;
  const stateSource = source.kind === 'procfs' ? `procfs:${source.location}` : `replay:${source.location}`;
  const resumed = resumeState(store, stateSource, now, source.kind === 'procfs');

  const exportPath = config.exporters.file.path;
  let file: FileExporter | null = null;
  if (exportPath !== '') {
    try {
      appendFileSync(exportPath, ''); // can we write there at all? Say so now, not at every interval
    } catch (err) {
      source.close();
      store.close();
      throw new UserError(`exporters.file.path ${exportPath}: ${(err as Error).message}`);
    }
    file = new FileExporter({ path: exportPath, maxBytes: config.exporters.file.max_mb * 1e6, log });
  }
  const { otlp, announce } = await openOtlp(config, intervalSeconds, log, redactor);
  const optimizer = new Optimizer(config, profile, { file, otlp }, resumed ?? undefined);
  const webhooks = new WebhookSender({ store, webhooks: config.webhooks, host: hostname(), log, redactor });
  const shadows = new ShadowProfiles(config, config.advanced.shadow_profiles, optimizer);
  const daemon = new Daemon({ config, configFile, configLocation: location, env, intervalFlag: opts.interval, dataDir: home, unlock, log, store, optimizer, shadows, source, otlp, file, stateSource, webhooks, redactor, fleetLayer: fleetStart.layer });
  if (config.fleet.endpoint && !opts.once) {
    // The OpAMP client (protobuf runtime, schema, WebSocket) is loaded only by an agent in a fleet.
    const { AgentFleet } = await import('./fleet.js');
    daemon.fleet = new AgentFleet({ daemon, config, store, log, redactor, dataDir: home, tls, start: fleetStart, clientOptions: testClientOptions() });
  }
  const collector = new Collector({
    source,
    intervalSeconds,
    log,
    logPermissionErrors,
    handle: (snapshot, budget) => daemon.handle(snapshot, budget),
    onEnd: () => {
      daemon.replayFinished = true;
      log.info({ replay: source.location, intervals: collector.intervals }, `replay finished: ${collector.intervals} snapshots of ${source.location}; still serving until stopped`);
    },
  });
  daemon.collector = collector;
  if (opts.once) {
    announce();
    const ok = await collector.collectOnce();
    await Promise.all([otlp?.sender.flush(), webhooks.drain()]);
    await daemon.stop();
    if (otlp && otlp.queue.depth > 0) {
      log.warn({ queued_batches: otlp.queue.depth, queue: otlp.settings.queueDir }, `${otlp.queue.depth} batches stay queued for the next run`);
    }
    // A part that could not take the interval (a full disk, say) fails the run; the log said which.
    const failed = (file?.health.intervalsFailed ?? 0) + (otlp?.sender.intervalsFailed ?? 0) + daemon.storeHealth.intervalsFailed;
    if (!ok || failed > 0) process.exitCode = EXIT.error;
    return;
  }
  const exporting = [otlp ? `, sending OTLP to ${otlp.sender.endpoint}` : '', file ? `, writing OTLP JSON to ${file.path}` : ''].join('');
  const listen = config.server.listen;
  const listenFrom = env.some((e) => e.name === 'NRDOT_HTTP_ADDR') ? 'NRDOT_HTTP_ADDR' : 'server.listen';
  let token: string;
  try {
    token = ensureToken(home).token;
    redactor.add([token]);
  } catch (err) {
    await daemon.stop();
    throw new UserError(`API token ${join(home, TOKEN_FILE)}: ${describeFileError(err)}`);
  }
  try {
    await daemon.listen(listen, token);
  } catch (err) {
    await daemon.stop();
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${listenFrom} ${listen}: ${listenError(e, listen)}`);
  }
  try {
    daemon.register();
  } catch (err) {
    await daemon.stop();
    throw new UserError(`${join(home, AGENT_FILE)} (how nrdot-plus-ctl finds the agent): ${describeFileError(err)}`);
  }
  const address = daemon.listener!.address;
  const reading = source.kind === 'procfs' ? `reading ${source.location} every ${intervalSeconds} s` : `replaying ${source.location} (${source.pace} pace)`;
  log.info(
    {
      version: VERSION, procfs: source.kind === 'procfs' ? source.location : null, replay: source.kind === 'replay' ? source.location : null,
      interval_s: intervalSeconds, config: configFile ?? 'embedded defaults', env: env.map((e) => e.name), profile, data_dir: home,
      state_resumed: resumed !== null, otlp_endpoint: otlp?.sender.endpoint ?? null, file_export: file?.path ?? null, listen: address,
    },
    `nrdot-plus ${VERSION} started: ${reading}, profile ${profile}${exporting}; Prometheus metrics at http://${address}/metrics, API at /api/v1${resumed ? '; pipeline state resumed' : ''}`,
  );
  announce();
  daemon.watchConfig();
  await new Promise<void>((resolve) => {
    let stopping = false;
    signals.handle((signal) => {
      if (signal === 'SIGHUP') {
        if (!stopping) daemon.requestReload({ who: 'SIGHUP', reason: 'SIGHUP' });
        return;
      }
      if (stopping) return; // a second signal while stopping waits for the first stop
      stopping = true;
      void daemon
        .stop()
        .catch((err: Error) => log.error({ err }, `while stopping: ${err.message}`))
        .finally(() => {
          log.info({ signal }, `stopped on ${signal}`);
          resolve();
        });
    });
    if (stopping) return;
    collector.start();
    otlp?.sender.start();
    webhooks.start();
    daemon.fleet?.start();
  });
}

async function openSource(opts: AgentOptions, intervalSeconds: number, logPermissionErrors: boolean, log: Logger): Promise<SnapshotSource> {
  if (opts.replay !== undefined) {
    if (opts.procfs !== undefined) throw new UsageError('--replay and --procfs: choose one source');
    if (opts.once) throw new UsageError('--replay and --once: a replay runs to the end of the recording');
    try {
      if (!statSync(opts.replay).isFile()) throw new UserError(`--replay ${opts.replay}: not a file`);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`--replay ${opts.replay}: ${describeFileError(err)}`);
    }
    // The first snapshot is read now: a file that is not a recording stops the start, not the replay.
    return ReplaySource.open(opts.replay, opts.replayPace ?? 'recorded', (message) => log.warn({ replay: opts.replay }, message));
  }
  const root = procfsRoot(opts.procfs);
  return new ProcfsSource(openReader(root, intervalSeconds, logPermissionErrors ? PERMISSION_DETAILS_PER_INTERVAL : 0));
}

/** The data directory, created (0750) when missing, and locked: one agent per data directory. */
function openDataDir(): { home: string; unlock: () => void } {
  const home = dataDir();
  try {
    mkdirSync(home, { recursive: true, mode: 0o750 });
    return { home, unlock: acquireLock(join(home, 'agent.lock')) };
  } catch (err) {
    if (err instanceof LockedError) {
      throw new UserError(`another nrdot-plus (${err.who}) is running with the data directory ${home}; stop it, or give this one its own NRDOT_DATA_DIR`);
    }
    throw new UserError(`data directory ${home} (NRDOT_DATA_DIR): ${describeFileError(err)}`);
  }
}

function openStore(home: string): StateStore {
  try {
    return StateStore.open(join(home, 'state'));
  } catch (err) {
    throw new UserError(`state store: ${(err as Error).message}`);
  }
}

/**
 * The OpAMP client's timings for tests (NRDOT_TEST_OPAMP_BACKOFF_MS, NRDOT_TEST_OPAMP_HEARTBEAT_SECONDS):
 * a real hub offers its heartbeat; a test against a server that offers none must not wait 30 s.
 */
function testClientOptions(): { heartbeatSeconds?: number; backoffInitialMs?: number; backoffMaxMs?: number } {
  const hb = Number(process.env.NRDOT_TEST_OPAMP_HEARTBEAT_SECONDS);
  const backoff = Number(process.env.NRDOT_TEST_OPAMP_BACKOFF_MS);
  return {
    ...(hb > 0 ? { heartbeatSeconds: hb } : {}),
    ...(backoff > 0 ? { backoffInitialMs: backoff, backoffMaxMs: backoff * 4 } : {}),
  };
}

/** The saved pipeline state, when it was saved by the same source and is recent enough. */
function resumeState(store: StateStore, source: string, now: number, live: boolean): PipelineState | null {
  const saved = store.loadPipelineState();
  if (!saved || saved.source !== source) return null;
  if (live && (saved.timestamp > now + 60 || now - saved.timestamp > STATE_MAX_AGE_S)) return null;
  return decodeState(saved.blob);
}

/**
 * The OTLP/HTTP exporter, or null when no endpoint and no license key are configured; announce()
 * logs which, once, after the start line.
 */
async function openOtlp(config: Config, intervalSeconds: number, log: Logger, redactor: Redactor): Promise<{ otlp: OtlpExport | null; announce: () => void }> {
  const resolved = resolveOtlp(config, intervalSeconds);
  if (!resolved.enabled) {
    return { otlp: null, announce: () => log.info({ otlp_endpoint: null }, `OTLP export is off: ${resolved.reason}; files and /metrics still work`) };
  }
  const settings = resolved.settings;
  let queue: DurableQueue;
  try {
    queue = new DurableQueue({ dir: settings.queueDir, maxBytes: settings.queueMaxBytes, onLost: (keys, folder) => logLost(log, settings.queueDir, keys, folder) });
  } catch (err) {
    throw new UserError(`OTLP queue ${settings.queueDir} (NRDOT_DATA_DIR): ${(err as Error).message}`);
  }
  const sender = new OtlpHttpSender(settings, queue, log, await openTransport(settings.tls), redactor);
  const headerNames = Object.keys(settings.headers).sort();
  const announce = (): void => {
    for (const w of settings.warnings) log.warn({ otlp_endpoint: sender.endpoint }, `OTLP export: ${w}`);
    log.info(
      {
        otlp_endpoint: sender.endpoint,
        otlp_endpoint_from: settings.urlSource,
        otlp_headers: headerNames,
        compression: settings.compression,
        temporality: settings.temporality,
        queue: settings.queueDir,
        queued_batches: queue.depth,
      },
      `OTLP export to ${sender.endpoint} (from ${settings.urlSource}), ${settings.compression}, ${settings.temporality} temporality` +
        `${headerNames.length ? `, headers: ${headerNames.join(', ')}` : ''}; queue ${settings.queueDir} holds ${queue.depth} batches`,
    );
  };
  return { otlp: { settings, queue, sender, metrics: new DeliveryMetrics(sender, queue, Date.now() / 1000) }, announce };
}

/** Batches gone from the queue's directory: one line for those found together; each is told once. */
function logLost(log: Logger, dir: string, keys: string[], folder: boolean): void {
  const lost = `${keys.length} queued ${keys.length === 1 ? 'batch' : 'batches'} lost (counted in nrdot_export_batches_lost_total)`;
  const names = `${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', ...' : ''}`;
  const msg = folder ? `OTLP queue ${dir} was removed: recreated it; ${lost}` : `OTLP queue ${dir}: batch files removed outside the agent (${names}): skipped; ${lost}`;
  log.warn({ queue: dir, lost_batches: keys.length, queue_removed: folder }, msg);
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  process.exitCode = await runProgram(buildAgentProgram(), argv);
}

/** Why the listener could not start, and for a taken address, how to find who has it and choose another. */
function listenError(e: NodeJS.ErrnoException, listen: string): string {
  if (e.code === 'EACCES') return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another with NRDOT_HTTP_ADDR or server.listen)';
  if (e.code !== 'EADDRINUSE') return e.message;
  const where = parseListen(listen);
  const who = 'socket' in where ? `a process holds the socket ${where.socket} (\`ss -lxp\` shows which)` : `another program listens on port ${where.port} (\`ss -ltnp 'sport = :${where.port}'\` shows which)`;
  return `address already in use: ${who}; choose another address with NRDOT_HTTP_ADDR=127.0.0.1:PORT or server.listen in the configuration, or port 0 for any free one (logged at start, found by nrdot-plus-ctl)`;
}
