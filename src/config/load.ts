/**
 * Loading optimization.yaml: YAML parsed with line positions, merged over the shipped defaults,
 * validated once with the schema. Every failure is one ConfigError naming the file, the field path
 * and, where the file has it, the line.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { describeFileError } from '../file-errors.js';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_CONFIG } from './defaults.js';
import { deepMerge, isPlainObject, type Plain } from './merge.js';
import { parseSchedule, validTimezone } from '../control/schedule.js';
import { applyEnv, envFor, type AppliedEnv, type Env } from './env.js';
import { configLocation, type ConfigLocation } from './paths.js';
import { configSchema, profileSchema, type Config, type ProfileConfig } from './schema.js';

/** Variables whose value is never quoted in a message. */
const SECRET_VARIABLES = new Set(['NRDOT_OPAMP_HEADERS', 'NRDOT_OPAMP_ENDPOINT']);

export class ConfigError extends Error {
  constructor(
    message: string,
    /** 1, or 2 (usage) when the bad value came from an environment variable. */
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * The largest configuration file read (256 KiB; the shipped one is 10 KB). Parsing and validating
 * costs about 150 times the size in memory: within the service's 256 MB, beside the agent's own.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** Aliases (`*name`) a file may use: each one copies what it names, so a few levels of them can make gigabytes. */
export const MAX_CONFIG_ALIASES = 100;

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when the embedded defaults are in force. */
  file: string | null;
  /** The environment variables that replaced settings (ENV_SETTINGS). */
  env: AppliedEnv[];
}

/**
 * A layer merged over the file and under the environment: a fleet fragment (`fleet/00-base.yaml`),
 * YAML, named by `name` in messages. SPEC "Fleet": defaults < file < fragments (in order) < env < flags.
 */
export interface ConfigFragment {
  name: string;
  text: string;
}

/** Loads the configuration the way every command does: --config, NRDOT_CONFIG, default location. */
export function loadConfig(flag?: string, env: Env = process.env): LoadedConfig {
  return loadConfigAt(configLocation(flag, env), env);
}

export function loadConfigAt(location: ConfigLocation, env: Env = process.env, fragments: readonly ConfigFragment[] = []): LoadedConfig {
  let text: string;
  try {
    text = readConfigFile(location.path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // Nothing at the default location (or a home that is not ours to read): the embedded defaults.
    // ENOTDIR: the data directory is not one; opening it says so, naming it.
    if ((code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') && !location.explicit) {
      return { ...withEnv(fragments.map(parseLayer), '(embedded defaults)', env), file: null };
    }
    throw new ConfigError(`${location.path}: ${describeFileError(err)}${location.explicit ? ` (from ${location.source})` : ''}`);
  }
  return { ...withEnv([parseLayer({ name: location.path, text }), ...fragments.map(parseLayer)], location.path, env), file: location.path };
}

/**
 * The file's text; a ConfigError naming it when it is larger than MAX_CONFIG_BYTES. A regular file
 * says its size before it is read; at most MAX_CONFIG_BYTES + 1 bytes are read of any, so a pipe,
 * /dev/stdin, a procfs file (size 0) or a file growing meanwhile cannot take the agent's memory.
 */
export function readConfigFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_CONFIG_BYTES) throw tooLarge(path, `${Math.ceil(size / 1024)} KiB`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let n; length < buf.length && (n = readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
    if (length > MAX_CONFIG_BYTES) throw tooLarge(path, `more than ${MAX_CONFIG_BYTES / 1024} KiB`);
    return buf.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, size: string): ConfigError {
  return new ConfigError(`${path}: ${size}, larger than a configuration file may be (${MAX_CONFIG_BYTES / 1024} KiB)`);
}

/** The shipped defaults alone. */
export function defaultConfig(): Config {
  return finish(configSchema.parse(DEFAULT_CONFIG), () => '(embedded defaults)');
}

/** Parses and validates the text of a config file (named `file` in messages) over the defaults. */
export function parseConfig(text: string, file: string): Config {
  return withEnv([parseLayer({ name: file, text })], file, {}).config;
}

/** One YAML layer: its settings, and its document for the line numbers of messages. */
interface Layer {
  name: string;
  doc: Document;
  lines: LineCounter;
  value: Plain;
}

export interface ParsedYaml {
  /** The document as plain values ({} for an empty one). */
  value: unknown;
  doc: Document;
  lines: LineCounter;
}

/**
 * YAML text parsed with line positions, duplicate keys refused and aliases bounded; a ConfigError
 * naming `file` (and the line) otherwise. Shared with the hub's hub.yaml and its fleet fragments.
 */
export function parseYamlText(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: YAML syntax error: ${what}`);
  }
  let user: unknown;
  try {
    user = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES }) ?? {};
  } catch (err) {
    // The yaml package's ReferenceError: an alias that expands too much (a "billion laughs"), or one naming no anchor.
    throw new ConfigError(`${file}: YAML aliases: ${(err as Error).message.replace(/^Excessive alias count indicates a resource exhaustion attack$/, `they expand beyond ${MAX_CONFIG_ALIASES} copies (an alias bomb?)`)}`);
  }
  return { value: user, doc, lines };
}

/** Parses one layer (the file, or a fleet fragment); a ConfigError naming it when it is not a YAML mapping. */
export function parseLayer(source: ConfigFragment): Layer {
  const { name, text } = source;
  if (text.length > MAX_CONFIG_BYTES) throw tooLarge(name, `${Math.ceil(text.length / 1024)} KiB`);
  const { value, doc, lines } = parseYamlText(text, name);
  if (!isPlainObject(value)) throw new ConfigError(`${name}: the top level must be a mapping of settings`);
  return { name, doc, lines, value };
}

/** Where a setting came from, for a message: `file:line` of the last layer that sets it (or part of its path), else `base`. */
type Locate = (path: PathKey[]) => string;

function locator(layers: readonly Layer[], base: string): Locate {
  return (path) => {
    // The deepest part of the path that a layer has (the rest may come from the defaults); the last layer wins.
    for (let n = path.length; n > 0; n--) {
      const prefix = path.slice(0, n);
      for (let i = layers.length - 1; i >= 0; i--) {
        const l = layers[i]!;
        const line = keyLine(l.doc, l.lines, prefix);
        if (line !== null) return `${l.name}:${line}`;
      }
    }
    return base;
  };
}

/** Merges the layers over the defaults, applies the environment, then validates; a bad variable is named as such. */
function withEnv(layers: readonly Layer[], base: string, env: Env): { config: Config; env: AppliedEnv[] } {
  let merged: unknown = DEFAULT_CONFIG;
  for (const l of layers) merged = deepMerge(merged, l.value);
  merged = structuredClone(merged);
  const applied = applyEnv(merged as Plain, env);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const fromEnv = result.error.issues.map((i) => envFor(applied, i.path as PathKey[])).find((a) => a !== undefined);
    if (fromEnv) {
      const issue = result.error.issues.find((i) => envFor(applied, i.path as PathKey[]) === fromEnv)!;
      // A header list may carry a credential: its value is never quoted.
      const got = SECRET_VARIABLES.has(fromEnv.name) ? '' : `got "${fromEnv.value}"; `;
      throw new ConfigError(`${fromEnv.name}: ${issue.message} (${got}it sets ${fromEnv.path.join('.')})`, 2);
    }
    throw new ConfigError(describeIssuesAt(locator(layers, base), result.error.issues, []));
  }
  return { config: finish(result.data, locator(layers, base)), env: applied };
}

/** Cross-field rules and custom profiles, which the per-field schema cannot see. */
function finish(config: Config, at: Locate): Config {
  for (const [name, custom] of Object.entries(config.custom_profiles)) {
    const { extends: base = 'balanced', ...rest } = custom as Plain & { extends?: string };
    if (Object.hasOwn(config.profiles, name)) {
      throw new ConfigError(`${at(['custom_profiles', name])}: custom_profiles.${name}: a profile of this name is already defined (built in, or under profiles:); change it under profiles.${name} instead`);
    }
    const parent = Object.hasOwn(config.profiles, base) ? config.profiles[base] : undefined;
    if (!parent) {
      throw new ConfigError(`${at(['custom_profiles', name, 'extends'])}: custom_profiles.${name}.extends: ${unknownProfile(base, Object.keys(config.profiles))}`);
    }
    const parsed = profileSchema.safeParse(deepMerge(parent, rest));
    if (!parsed.success) throw new ConfigError(describeIssuesAt(at, parsed.error.issues, ['custom_profiles', name]));
    config.profiles[name] = parsed.data as ProfileConfig;
  }
  // Tiers a user adds to process_classification are evaluated before the shipped ones (a merge would
  // otherwise append them after the generic rules, where e.g. a java-based tier could never match).
  const shipped = new Set(Object.keys(DEFAULT_CONFIG.process_classification ?? {}));
  const tiers = Object.entries(config.process_classification);
  config.process_classification = Object.fromEntries([...tiers.filter(([t]) => !shipped.has(t)), ...tiers.filter(([t]) => shipped.has(t))]);
  const profileNames = Object.keys(config.profiles);
  const known = (p: string): boolean => Object.hasOwn(config.profiles, p);
  if (!known(config.state.active_profile)) {
    throw new ConfigError(`${at(['state', 'active_profile'])}: state.active_profile: ${unknownProfile(config.state.active_profile, profileNames)}`);
  }
  config.advanced.time_based_rules.forEach((rule, i) => {
    const where = (field: string): string => `${at(['advanced', 'time_based_rules', i, field])}: advanced.time_based_rules.${i}.${field}`;
    if (!known(rule.profile)) throw new ConfigError(`${where('profile')}: ${unknownProfile(rule.profile, profileNames)}`);
    try {
      parseSchedule(rule.schedule);
    } catch (err) {
      throw new ConfigError(`${where('schedule')}: ${(err as Error).message}`);
    }
    if (rule.timezone !== undefined && !validTimezone(rule.timezone)) {
      throw new ConfigError(`${where('timezone')}: "${rule.timezone}" is not an IANA timezone (such as Europe/Berlin or America/New_York)`);
    }
  });
  const shadows = config.advanced.shadow_profiles;
  shadows.forEach((name, i) => {
    const where = `${at(['advanced', 'shadow_profiles', i])}: advanced.shadow_profiles.${i}`;
    if (!known(name)) throw new ConfigError(`${where}: ${unknownProfile(name, profileNames)}`);
    if (shadows.indexOf(name) !== i) throw new ConfigError(`${where}: "${name}" is listed twice`);
  });
  return config;
}

export type PathKey = string | number;

/**
 * The line of `path` in the document: of its key (for a mapping, the line that names it, not its
 * first child's), or of its list item; null when the document does not have it.
 */
function keyLine(doc: Document, lines: LineCounter, path: PathKey[]): number | null {
  const last = path[path.length - 1];
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  let range: readonly number[] | null | undefined;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
    range = pair && isScalar(pair.key) ? pair.key.range : undefined;
  } else if (isSeq(parent) && typeof last === 'number') {
    const item = parent.items[last] as { range?: readonly number[] } | undefined;
    range = item?.range;
  }
  return range ? lines.linePos(range[0]!).line : null;
}

/** `:LINE` of the deepest part of `path` the document has, or '' (a field from the defaults has none). */
export function lineSuffix(doc: Document | null, lines: LineCounter | null, path: PathKey[]): string {
  if (!doc || !lines) return '';
  for (let n = path.length; n > 0; n--) {
    const line = keyLine(doc, lines, path.slice(0, n));
    if (line !== null) return `:${line}`;
  }
  return '';
}

/** Zod issues as `file:line: path: message` lines (at most 10), unknown keys named (one document). */
export function describeIssues(file: string, issues: z.core.$ZodIssue[], doc: Document | null, lines: LineCounter | null, prefix: PathKey[]): string {
  return describeIssuesAt((path) => `${file}${lineSuffix(doc, lines, path)}`, issues, prefix);
}

/** Zod issues as `where: path: message` lines, `where` the layer (and line) that set the path. */
function describeIssuesAt(at: Locate, issues: z.core.$ZodIssue[], prefix: PathKey[]): string {
  const described = issues.slice(0, 10).map((issue) => {
    const path = [...prefix, ...(issue.path as PathKey[])];
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      path.push(key);
      message = `unknown setting${issue.keys.length > 1 ? `s ${issue.keys.join(', ')}` : ''}`;
    }
    const where = path.length > 0 ? path.join('.') : '(top level)';
    return `${at(path)}: ${where}: ${message}`;
  });
  if (issues.length > 10) described.push(`... and ${issues.length - 10} more`);
  return described.join('\n');
}

/** `no profile named "aggresive" (did you mean "aggressive"? profiles: ...)`: the valid names, and the likely one. */
export function unknownProfile(name: string, names: readonly string[]): string {
  const close = names.filter((n) => editDistance(n.toLowerCase(), name.toLowerCase()) <= Math.min(2, Math.floor(n.length / 3)));
  return `no profile named "${name}" (${close.length === 1 ? `did you mean "${close[0]}"? ` : ''}profiles: ${names.join(', ')})`;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
