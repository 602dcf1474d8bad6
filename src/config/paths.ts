/**
 * Where NRDOT-Plus keeps its files (SPEC, "Files and defaults"): system locations when run as root,
 * one local data directory otherwise; NRDOT_CONFIG, NRDOT_DATA_DIR and NRDOT_LOG_DIR override.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SYSTEM_CONFIG = '/etc/nrdot-plus/optimization.yaml';
export const SYSTEM_DATA_DIR = '/var/lib/nrdot-plus';
export const SYSTEM_LOG_DIR = '/var/log/nrdot-plus';
/** The agent's log file name, in the log directory; rotated copies are FILE.1 (newest) to FILE.3. */
export const LOG_FILE_NAME = 'nrdot-plus.log';
/** How far past FILE.1 readers of the log look for rotated files (the agent keeps 3; an older version or a setting may have kept more). */
export const MAX_ROTATED_LOGS = 9;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The data directory: NRDOT_DATA_DIR, else /var/lib/nrdot-plus for root, else ~/.local/share/nrdot-plus. */
export function dataDir(env = process.env): string {
  if (env.NRDOT_DATA_DIR) return env.NRDOT_DATA_DIR;
  if (isRoot()) return SYSTEM_DATA_DIR;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'nrdot-plus');
}

/** The log directory: NRDOT_LOG_DIR, else /var/log/nrdot-plus for root (without NRDOT_DATA_DIR), else <data dir>/logs. */
export function logDir(env = process.env): string {
  if (env.NRDOT_LOG_DIR) return env.NRDOT_LOG_DIR;
  if (isRoot() && !env.NRDOT_DATA_DIR) return SYSTEM_LOG_DIR;
  return join(dataDir(env), 'logs');
}

/** The agent's log file: <log dir>/nrdot-plus.log. */
export function logFile(env = process.env): string {
  return join(logDir(env), LOG_FILE_NAME);
}

export interface ConfigLocation {
  path: string;
  /** Named by the user (--config, NRDOT_CONFIG): a missing file is an error, not a fallback to defaults. */
  explicit: boolean;
  /** How it was chosen, for messages. */
  source: '--config' | 'NRDOT_CONFIG' | 'default location';
}

/** The config file: --config, else NRDOT_CONFIG, else the system (root) or local default location. */
export function configLocation(flag?: string, env = process.env): ConfigLocation {
  if (flag) return { path: flag, explicit: true, source: '--config' };
  if (env.NRDOT_CONFIG) return { path: env.NRDOT_CONFIG, explicit: true, source: 'NRDOT_CONFIG' };
  const path = isRoot() && !env.NRDOT_DATA_DIR ? SYSTEM_CONFIG : join(dataDir(env), 'optimization.yaml');
  return { path, explicit: false, source: 'default location' };
}
