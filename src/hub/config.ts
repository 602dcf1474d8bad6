/**
 * The hub's settings (SPEC, "Fleet"): flags > NRDOT_HUB_* variables > hub.yaml > defaults. hub.yaml is
 * `--config` / NRDOT_HUB_CONFIG, else /etc/nrdot-plus/hub.yaml as root, else hub.yaml in the data
 * directory, when present. A bad variable is a usage error naming it (exit 2); a bad file is a
 * ConfigError naming file:line and the field (exit 1), as the agent's optimization.yaml.
 */
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError, UserError } from '../command/errors.js';
import { ConfigError, describeIssues, parseYamlText, readConfigFile } from '../config/load.js';
import { isPlainObject } from '../config/merge.js';
import { parseBoolean } from '../config/env.js';
import { isLoopback, parseListen } from '../config/listen.js';
import { durationSeconds } from '../config/schema.js';
import { describeFileError } from '../file-errors.js';
import type { HubSettings } from './settings.js';

export const DEFAULT_HUB_LISTEN = '127.0.0.1:4320';
export const SYSTEM_HUB_CONFIG = '/etc/nrdot-plus/hub.yaml';
export const SYSTEM_HUB_DATA_DIR = '/var/lib/nrdot-plus-hub';
export const HUB_CONFIG_NAME = 'hub.yaml';
const DAY_MS = 86_400_000;
/** Heartbeats offered to agents: at most an hour (an agent is offline after 3 missed). */
export const HEARTBEAT_BOUNDS = { min: 1, max: 3600 } as const;

/** Settings given on the command line (undefined: not given). */
export interface HubFlags {
  listen?: string;
  dataDir?: string;
  database?: string;
  config?: string;
  publicUrl?: string;
  heartbeatSeconds?: number;
}

type Env = Record<string, string | undefined>;

export function defaultHubSettings(env: Env = process.env): HubSettings {
  return {
    listen: DEFAULT_HUB_LISTEN,
    dataDir: defaultDataDir(env),
    database: null,
    tls: null,
    insecurePlaintext: false,
    publicUrl: null,
    heartbeatSeconds: 30,
    phaseHeartbeatSeconds: 5,
    watchHeartbeatSeconds: 2,
    retention: { minuteMs: 35 * DAY_MS, hourMs: 400 * DAY_MS },
    agentSecret: null,
    adminToken: null,
    allowExporters: false,
    maxBodyBytes: 4 * 1024 * 1024,
  };
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function defaultDataDir(env: Env): string {
  if (isRoot()) return SYSTEM_HUB_DATA_DIR;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'nrdot-plus-hub');
}

// ---- values, each checked once; `what` names the flag, variable or field in the message ----

/** `host:port` (a Unix socket is not offered: agents connect over TCP). */
export function checkListen(value: string): string {
  const parsed = parseListen(value);
  if ('socket' in parsed) throw new Error(`"${value}": the hub listens on TCP, host:port (for example ${DEFAULT_HUB_LISTEN})`);
  return value.trim();
}

export function checkDatabase(value: string): string {
  const v = value.trim();
  if (!/^postgres(ql)?:\/\/./i.test(v)) throw new Error('must be a PostgreSQL URL, postgres://user:password@host:5432/db (unset for the embedded SQLite database)');
  return v;
}

export function checkPublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`"${value}" is not a URL (for example https://hub.example.com:4320)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${value}": must be an http:// or https:// URL`);
  return url.toString().replace(/\/+$/, '');
}

export function checkHeartbeat(value: number): number {
  if (!Number.isInteger(value) || value < HEARTBEAT_BOUNDS.min || value > HEARTBEAT_BOUNDS.max) {
    throw new Error(`must be a whole number of seconds from ${HEARTBEAT_BOUNDS.min} to ${HEARTBEAT_BOUNDS.max}`);
  }
  return value;
}

/** A zod string checked by one of the functions above, its message as the issue's. */
const checked = (check: (v: string) => string) =>
  z.string().superRefine((v, ctx) => {
    try {
      check(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const durationMs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const s = durationSeconds(v);
    if (s > 0) return s * 1000;
  } catch {
    // the message below
  }
  ctx.addIssue({ code: 'custom', message: 'must be a positive duration such as 35d, 12h, 90m (a number is seconds)' });
  return z.NEVER;
});
const heartbeat = z.number().superRefine((v, ctx) => {
  try {
    checkHeartbeat(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** hub.yaml: every key optional, unknown keys refused by name. */
export const hubFileSchema = z.strictObject({
  listen: checked(checkListen).optional(),
  data_dir: z.string().min(1).optional(),
  database: checked(checkDatabase).optional(),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  insecure_plaintext: z.boolean().optional(),
  public_url: checked(checkPublicUrl).optional(),
  heartbeat: z
    .strictObject({ seconds: heartbeat.optional(), phase_seconds: heartbeat.optional(), watch_seconds: heartbeat.optional() })
    .optional(),
  retention: z.strictObject({ minute_rows: durationMs.optional(), hour_rows: durationMs.optional() }).optional(),
  auth: z
    .strictObject({
      agent_secret: z.string().min(1).optional(),
      token: z.string().min(1).optional(),
      allow_exporters: z.boolean().optional(),
    })
    .optional(),
  max_body_mb: z.number().positive().max(256).optional(),
});
export type HubFile = z.output<typeof hubFileSchema>;

export interface HubConfigLocation {
  path: string;
  explicit: boolean;
  source: '--config' | 'NRDOT_HUB_CONFIG' | 'default location';
}

/** --config, else NRDOT_HUB_CONFIG, else /etc/nrdot-plus/hub.yaml as root (unless a data dir was named, as the agent does), else hub.yaml in the data dir. */
export function hubConfigLocation(flags: HubFlags, env: Env, dataDir: string, dataDirNamed: boolean): HubConfigLocation {
  if (flags.config) return { path: flags.config, explicit: true, source: '--config' };
  if (env.NRDOT_HUB_CONFIG) return { path: env.NRDOT_HUB_CONFIG, explicit: true, source: 'NRDOT_HUB_CONFIG' };
  return { path: isRoot() && !dataDirNamed ? SYSTEM_HUB_CONFIG : join(dataDir, HUB_CONFIG_NAME), explicit: false, source: 'default location' };
}

/** hub.yaml read and validated; null when there is none at the default location. */
export function readHubFile(location: HubConfigLocation): HubFile | null {
  let text: string;
  try {
    text = readConfigFile(location.path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !location.explicit) return null;
    throw new ConfigError(`${location.path}: ${describeFileError(err)}${location.explicit ? ` (from ${location.source})` : ''}`);
  }
  const { value, doc, lines } = parseYamlText(text, location.path);
  if (!isPlainObject(value)) throw new ConfigError(`${location.path}: the top level must be a mapping of settings`);
  const result = hubFileSchema.safeParse(value);
  if (!result.success) throw new ConfigError(describeIssues(location.path, result.error.issues, doc, lines, []));
  // Paths in the file are relative to it, as a reader of the file expects.
  const base = dirname(resolve(location.path));
  const rel = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const file = result.data;
  if (file.tls) file.tls = { cert: rel(file.tls.cert), key: rel(file.tls.key) };
  if (file.data_dir) file.data_dir = rel(file.data_dir);
  return file;
}

/** A variable's value checked, or a UsageError naming it (exit 2). */
function fromEnv<T>(env: Env, name: string, check: (raw: string) => T): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return check(raw);
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}${(err as Error).message.includes(raw) ? '' : ` (got "${raw}")`}`);
  }
}

const envBool = (raw: string): boolean => {
  const v = parseBoolean(raw);
  if (v === undefined) throw new Error('must be true or false');
  return v;
};
const envHeartbeat = (raw: string): number => checkHeartbeat(/^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN);

export interface LoadedHubSettings {
  settings: HubSettings;
  /** hub.yaml read, or null. */
  file: string | null;
}

/** The settings: flags > NRDOT_HUB_* > hub.yaml > defaults, then the exposure rules (checkExposure). */
export function loadHubSettings(flags: HubFlags = {}, env: Env = process.env): LoadedHubSettings {
  const defaults = defaultHubSettings(env);
  const envDataDir = fromEnv(env, 'NRDOT_HUB_DATA_DIR', (v) => v);
  const named = flags.dataDir ?? envDataDir;
  const location = hubConfigLocation(flags, env, named ?? defaults.dataDir, named !== undefined);
  const file = readHubFile(location);
  const f = file ?? {};

  const tlsCert = fromEnv(env, 'NRDOT_HUB_TLS_CERT', (v) => v);
  const tlsKey = fromEnv(env, 'NRDOT_HUB_TLS_KEY', (v) => v);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError(`${tlsCert === undefined ? 'NRDOT_HUB_TLS_CERT' : 'NRDOT_HUB_TLS_KEY'}: unset while ${tlsCert === undefined ? 'NRDOT_HUB_TLS_KEY' : 'NRDOT_HUB_TLS_CERT'} is set; TLS needs both the certificate and its key`);
  }
  const settings: HubSettings = {
    listen: flags.listen ?? fromEnv(env, 'NRDOT_HUB_LISTEN', checkListen) ?? f.listen ?? defaults.listen,
    dataDir: flags.dataDir ?? envDataDir ?? f.data_dir ?? defaults.dataDir,
    database: flags.database ?? fromEnv(env, 'NRDOT_HUB_DATABASE', checkDatabase) ?? f.database ?? defaults.database,
    tls: tlsCert !== undefined && tlsKey !== undefined ? { cert: tlsCert, key: tlsKey } : (f.tls ?? defaults.tls),
    insecurePlaintext: fromEnv(env, 'NRDOT_HUB_INSECURE_PLAINTEXT', envBool) ?? f.insecure_plaintext ?? defaults.insecurePlaintext,
    publicUrl: flags.publicUrl ?? fromEnv(env, 'NRDOT_HUB_PUBLIC_URL', checkPublicUrl) ?? f.public_url ?? defaults.publicUrl,
    heartbeatSeconds: flags.heartbeatSeconds ?? fromEnv(env, 'NRDOT_HUB_HEARTBEAT_SECONDS', envHeartbeat) ?? f.heartbeat?.seconds ?? defaults.heartbeatSeconds,
    phaseHeartbeatSeconds: f.heartbeat?.phase_seconds ?? defaults.phaseHeartbeatSeconds,
    watchHeartbeatSeconds: f.heartbeat?.watch_seconds ?? defaults.watchHeartbeatSeconds,
    retention: {
      minuteMs: f.retention?.minute_rows ?? defaults.retention.minuteMs,
      hourMs: f.retention?.hour_rows ?? defaults.retention.hourMs,
    },
    agentSecret: fromEnv(env, 'NRDOT_HUB_AGENT_SECRET', (v) => v.trim()) ?? f.auth?.agent_secret ?? defaults.agentSecret,
    adminToken: fromEnv(env, 'NRDOT_HUB_TOKEN', (v) => v.trim()) ?? f.auth?.token ?? defaults.adminToken,
    allowExporters: fromEnv(env, 'NRDOT_HUB_ALLOW_EXPORTERS', envBool) ?? f.auth?.allow_exporters ?? defaults.allowExporters,
    maxBodyBytes: f.max_body_mb !== undefined ? Math.round(f.max_body_mb * 1024 * 1024) : defaults.maxBodyBytes,
  };
  checkExposure(settings);
  return { settings, file: file ? location.path : null };
}

/**
 * Beyond loopback the hub needs TLS (or a load balancer that terminates it: insecure plaintext) and
 * an agent secret: otherwise anyone who reaches the port could enroll agents or read their traffic.
 */
export function checkExposure(settings: HubSettings): void {
  const where = parseListen(settings.listen);
  if ('socket' in where || isLoopback(where.host)) return;
  if (!settings.tls && !settings.insecurePlaintext) {
    throw new UserError(
      `refusing to listen on ${settings.listen} (beyond loopback) without TLS: set NRDOT_HUB_TLS_CERT and NRDOT_HUB_TLS_KEY (or tls.cert and tls.key in hub.yaml), ` +
        'or NRDOT_HUB_INSECURE_PLAINTEXT=true when a load balancer terminates TLS in front of the hub',
    );
  }
  if (!settings.agentSecret) {
    throw new UserError(
      `refusing to listen on ${settings.listen} (beyond loopback) without an agent secret: set NRDOT_HUB_AGENT_SECRET (or auth.agent_secret in hub.yaml); ` +
        'agents send it as NRDOT_OPAMP_HEADERS="authorization=Bearer <secret>"',
    );
  }
}
