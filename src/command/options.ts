/**
 * Parsing of flag values and environment variables shared by `nrdot-plus` and `nrdot-plus-ctl`.
 * Flags win over the environment, which wins over defaults; a bad value names its flag or variable.
 */
import { statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { UsageError, UserError } from './errors.js';
import { DURATION_BOUNDS, parseBoolean } from '../config/index.js';
import { ProcfsReader } from '../procfs/index.js';

export const DEFAULT_INTERVAL_SECONDS = 60;

/** Longest interval a flag or NRDOT_COLLECTION_INTERVAL may ask for (as cost_model.collection_interval_seconds). */
export const MAX_INTERVAL_SECONDS = DURATION_BOUNDS.collection_interval.max;

/** Commander argument parser for a number of seconds from `min` to `max`. */
export function secondsArg(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a number of seconds from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Commander argument parser for a positive integer. */
export function countArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError('must be a whole number, 1 or more.');
  }
  return n;
}

/** The collection interval: flag, else NRDOT_COLLECTION_INTERVAL, else 60 s. */
export function collectionInterval(flag: number | undefined, env = process.env): number {
  if (flag !== undefined) return flag;
  const raw = env.NRDOT_COLLECTION_INTERVAL;
  if (raw === undefined || raw.trim() === '') return DEFAULT_INTERVAL_SECONDS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > MAX_INTERVAL_SECONDS) {
    throw new UsageError(`NRDOT_COLLECTION_INTERVAL: must be a number of seconds from 1 to ${MAX_INTERVAL_SECONDS} (got "${raw}")`);
  }
  return n;
}

/** The procfs root: --procfs, else NRDOT_PROCFS, else /proc; it must be a readable directory. */
export function procfsRoot(flag: string | undefined, env = process.env): string {
  const fromEnv = env.NRDOT_PROCFS !== undefined && env.NRDOT_PROCFS !== '' ? env.NRDOT_PROCFS : undefined;
  const root = flag ?? fromEnv ?? '/proc';
  const source = flag !== undefined ? '--procfs' : fromEnv !== undefined ? 'NRDOT_PROCFS' : 'procfs root';
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    throw new UserError(`${source} ${root}: no such directory`);
  }
  if (!isDir) throw new UserError(`${source} ${root}: not a directory`);
  return root;
}

/** A boolean environment variable ("true"/"false", "1"/"0", "yes"/"no"); undefined when unset. */
export function envBoolean(name: string, env = process.env): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = parseBoolean(raw);
  if (value !== undefined) return value;
  throw new UsageError(`${name}: must be true or false (got "${raw}")`);
}

/** The --config flag of the agent and of ctl's commands. */
export const CONFIG_OPTION = ['--config <file>', 'optimization.yaml to use (env NRDOT_CONFIG)'] as const;

/** A reader on root, or a UserError naming the root when it is not a procfs (no stat, no meminfo). */
export function openReader(root: string, intervalSeconds: number, errorDetails = 0): ProcfsReader {
  try {
    return new ProcfsReader({ root, intervalSeconds, errorDetails, hostId: process.env.NRDOT_HOST_ID });
  } catch (err) {
    throw new UserError(`procfs root ${root}: not readable as a procfs (${(err as Error).message})`);
  }
}
