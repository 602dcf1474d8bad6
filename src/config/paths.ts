/**
 * Where NRDOT-Plus keeps its files (SPEC, "Files and defaults"): system locations when run as root,
 * one local data directory otherwise; NRDOT_CONFIG and NRDOT_DATA_DIR override.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SYSTEM_CONFIG = '/etc/nrdot-plus/optimization.yaml';
export const SYSTEM_DATA_DIR = '/var/lib/nrdot-plus';

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The data directory: NRDOT_DATA_DIR, else /var/lib/nrdot-plus for root, else ~/.local/share/nrdot-plus. */
export function dataDir(env = process.env): string {
  if (env.NRDOT_DATA_DIR) return env.NRDOT_DATA_DIR;
  if (isRoot()) return SYSTEM_DATA_DIR;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'nrdot-plus');
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
