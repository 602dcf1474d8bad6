/**
 * `nrdot-plus-hub`: the fleet hub. Reads its settings (src/hub/config.ts), opens its database
 * (embedded SQLite in the data directory, or PostgreSQL), makes sure the API tokens exist (printing
 * them once, at the first start), serves OpAMP, OTLP and the API (src/hub/server.ts) and runs the
 * background jobs on the replica that leads. SIGTERM or Ctrl-C closes it gracefully.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino, type Logger } from 'pino';
import { UserError } from '../command/errors.js';
import { LOG_FORMATS, logFormat, logLevel, stderrDestination } from '../command/log-format.js';
import { configure, runProgram } from '../command/program.js';
import { acquireLock, LockedError } from '../file-lock.js';
import { parseListen } from '../config/listen.js';
import { redactUrl, Redactor } from '../config/secrets.js';
import { VERSION } from '../version.js';
import { checkDatabase, checkHeartbeat, checkListen, checkPublicUrl, loadHubSettings, type HubFlags } from './config.js';
import type { HubContext } from './context.js';
import { createHubServer } from './server.js';
import type { HubSettings } from './settings.js';
import { openHubStore } from './store/index.js';
import type { HubStore } from './store/types.js';
import { ensureTokens, type CreatedTokens } from './tokens.js';

/** How often the leading replica folds old KPI rows (retention). */
const DOWNSAMPLE_EVERY_MS = 10 * 60_000;

interface HubOptions extends HubFlags {
  logFormat?: string;
}

/** A commander parser from one of config.ts's checks (the flag is named by commander). */
const flagArg = <T>(check: (v: string) => T) => (value: string): T => {
  try {
    return check(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};

export function buildHubProgram(): Command {
  return configure(new Command('nrdot-plus-hub'))
    .description('NRDOT-Plus fleet hub: OpAMP server, registry, fleet configurations and API. Runs until SIGTERM or Ctrl-C.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--listen <host:port>', 'where to serve OpAMP, OTLP and the API (env NRDOT_HUB_LISTEN)').argParser(flagArg(checkListen)).default(undefined, '127.0.0.1:4320'))
    .option('--data-dir <dir>', 'data directory: hub.db, hub.yaml (env NRDOT_HUB_DATA_DIR)')
    .option('--database <url>', 'postgres://user:password@host/db instead of the embedded SQLite database (env NRDOT_HUB_DATABASE)', flagArg(checkDatabase))
    .option('--config <file>', 'hub.yaml to use (env NRDOT_HUB_CONFIG)')
    .option('--public-url <url>', 'the address agents are told to send their own metrics to, behind a load balancer (env NRDOT_HUB_PUBLIC_URL)', flagArg(checkPublicUrl))
    .option(
      '--heartbeat-seconds <n>',
      'heartbeat offered to agents (env NRDOT_HUB_HEARTBEAT_SECONDS, default 30)',
      flagArg((v) => checkHeartbeat(/^\s*\d+\s*$/.test(v) ? Number(v) : NaN)),
    )
    .addOption(new Option('--log-format <format>', 'stderr: readable lines (text) or JSON lines; auto is text on a terminal (env NRDOT_LOG_FORMAT)').choices(LOG_FORMATS).default(undefined, 'auto'))
    .action(async (opts: HubOptions) => {
      await runHub(opts);
    });
}

/** The database as it may be shown: the SQLite file, or the URL without its password. */
export function describeDatabase(settings: HubSettings): string {
  return settings.database ? `PostgreSQL ${redactUrl(settings.database)}` : `SQLite ${join(settings.dataDir, 'hub.db')}`;
}

function createHubLogger(format: ReturnType<typeof logFormat>, level: string, redactor: Redactor): Logger {
  return pino(
    {
      name: 'nrdot-plus-hub',
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: (line: string) => redactor.scrub(line) },
    },
    stderrDestination(format),
  );
}

/** The secrets in the settings: never in a log line, whatever quotes them (a database error quoting its URL). */
function secretsOf(settings: HubSettings): string[] {
  const out = [settings.agentSecret, settings.adminToken].filter((s): s is string => !!s);
  if (settings.database) {
    try {
      const url = new URL(settings.database);
      if (url.password) out.push(decodeURIComponent(url.password), url.password);
    } catch {
      // checkDatabase accepted it; a URL that does not parse has no password to find
    }
  }
  return out;
}

function printTokens(tokens: CreatedTokens, settings: HubSettings): void {
  process.stdout.write(
    [
      `admin token: ${tokens.admin}`,
      `read token: ${tokens.read}`,
      'These tokens are shown once (the database keeps only their hashes). For nrdot-plus-ctl: export NRDOT_HUB_TOKEN=<admin token>.',
      ...(settings.adminToken ? ['NRDOT_HUB_TOKEN is set: it is the admin token while it is; the admin token above takes over when it is unset.'] : []),
      '',
    ].join('\n'),
  );
}

async function openStore(settings: HubSettings, log: Logger, redactor: Redactor): Promise<HubStore> {
  try {
    mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`data directory ${settings.dataDir}: ${(err as Error).message} (NRDOT_HUB_DATA_DIR or --data-dir chooses another)`);
  }
  if (settings.database === null) {
    // One hub per SQLite file: two would both run the background jobs and fight over the database.
    try {
      process.once('exit', acquireLock(join(settings.dataDir, 'hub.lock')));
    } catch (err) {
      if (err instanceof LockedError) {
        throw new UserError(`another nrdot-plus-hub (${err.who}) is running with the data directory ${settings.dataDir}; stop it, give this one its own NRDOT_HUB_DATA_DIR, or run replicas on PostgreSQL (NRDOT_HUB_DATABASE)`);
      }
      throw err;
    }
  }
  try {
    return await openHubStore({ database: settings.database, dataDir: settings.dataDir }, log);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(redactor.scrub(`database ${describeDatabase(settings)}: ${(err as Error).message}`));
  }
}

export async function runHub(opts: HubOptions): Promise<void> {
  const format = logFormat(opts.logFormat);
  const level = logLevel();
  const { settings, file } = loadHubSettings(opts);
  const redactor = new Redactor().add(secretsOf(settings));
  const log = createHubLogger(format, level, redactor);

  const store = await openStore(settings, log, redactor);
  let created: CreatedTokens | null;
  try {
    created = await ensureTokens(store);
  } catch (err) {
    await store.close();
    throw new UserError(redactor.scrub(`database ${describeDatabase(settings)}: ${(err as Error).message}`));
  }
  if (created) {
    redactor.add([created.admin, created.read]);
    // Printed as soon as they exist: a start that fails after this (address in use) must not lose them.
    printTokens(created, settings);
  }
  const ctx: HubContext = { settings, store, log, replicaId: `${hostname()}:${process.pid}:${Date.now()}`, now: () => Date.now() };
  const app = await createHubServer(ctx).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });

  const where = parseListen(settings.listen) as { host: string; port: number };
  try {
    await app.listen({ host: where.host, port: where.port });
  } catch (err) {
    await app.close();
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the address is in use (another hub?)' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UserError(`cannot listen on ${settings.listen}: ${why}; --listen or NRDOT_HUB_LISTEN chooses another address`);
  }
  const port = (app.server.address() as AddressInfo).port;
  const listen = `${where.host.includes(':') ? `[${where.host}]` : where.host}:${port}`;
  const url = `${settings.tls ? 'https' : 'http'}://${listen}`;
  log.info({ listen, url, tls: settings.tls !== null, version: VERSION }, `nrdot-plus-hub ${VERSION} listening on ${url} (OpAMP at ${url}/v1/opamp, API at ${url}/api/v1)`);
  log.info({ database: describeDatabase(settings) }, `database: ${describeDatabase(settings)}`);
  log.info({ data_dir: settings.dataDir, config: file }, `data dir: ${settings.dataDir}${file ? `; settings from ${file}` : ''}`);

  // Background jobs run on the replica holding the leadership (always the only one on SQLite).
  const downsample = setInterval(() => {
    void (async () => {
      if (await store.tryLeadership()) await store.downsample(Date.now(), settings.retention);
    })().catch((err: Error) => log.warn({ err: err.message }, `KPI downsampling failed: ${err.message}; tried again in ${DOWNSAMPLE_EVERY_MS / 60_000} min`));
  }, DOWNSAMPLE_EVERY_MS);
  downsample.unref();

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // A second signal while closing: stop at once.
  const force = (): void => process.exit(1);
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  log.info({ signal }, `${signal}: closing`);
  clearInterval(downsample);
  await app.close();
  await store.close();
  log.info('stopped');
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  process.exitCode = await runProgram(buildHubProgram(), argv);
}
