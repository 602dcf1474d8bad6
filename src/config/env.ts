/**
 * The environment layer of the configuration: flags > environment > config file > defaults. Each
 * variable below replaces one setting of optimization.yaml before validation, so a bad value is
 * reported under the variable's name. (The OTEL_EXPORTER_OTLP_* variables are applied by the OTLP
 * exporter's settings, which follow the OpenTelemetry specification's own precedence.)
 */

export interface EnvSetting {
  name: string;
  path: readonly string[];
  kind: 'number' | 'string' | 'boolean';
}

export const ENV_SETTINGS: readonly EnvSetting[] = [
  { name: 'NRDOT_COLLECTION_INTERVAL', path: ['cost_model', 'collection_interval_seconds'], kind: 'number' },
  { name: 'NRDOT_HTTP_ADDR', path: ['server', 'listen'], kind: 'string' },
  { name: 'NRDOT_ENABLE_CONTROL_LOOP', path: ['control_loop', 'enabled'], kind: 'boolean' },
  { name: 'NRDOT_CHECK_INTERVAL', path: ['control_loop', 'check_interval'], kind: 'number' },
  { name: 'NRDOT_TARGET_REDUCTION', path: ['control_loop', 'target_reduction'], kind: 'number' },
  { name: 'NRDOT_MAX_COST_HOUR', path: ['control_loop', 'max_cost_per_hour'], kind: 'number' },
  { name: 'NRDOT_MAX_SERIES', path: ['control_loop', 'max_series'], kind: 'number' },
  { name: 'NRDOT_TARGET_SERIES', path: ['control_loop', 'target_series'], kind: 'number' },
  { name: 'NRDOT_MIN_COVERAGE', path: ['control_loop', 'min_visibility'], kind: 'number' },
  { name: 'NRDOT_OPAMP_ENDPOINT', path: ['fleet', 'endpoint'], kind: 'string' },
  { name: 'NRDOT_OPAMP_HEADERS', path: ['fleet', 'headers'], kind: 'string' },
  { name: 'NRDOT_OPAMP_CERTIFICATE', path: ['fleet', 'certificate'], kind: 'string' },
  { name: 'NRDOT_OPAMP_CLIENT_CERTIFICATE', path: ['fleet', 'client_certificate'], kind: 'string' },
  { name: 'NRDOT_OPAMP_CLIENT_KEY', path: ['fleet', 'client_key'], kind: 'string' },
  { name: 'NRDOT_FLEET_LABELS', path: ['fleet', 'labels'], kind: 'string' },
];

export type Env = Record<string, string | undefined>;

/** A variable that was applied: its name, raw value and the setting it replaced. */
export interface AppliedEnv {
  name: string;
  value: string;
  path: readonly string[];
}

/**
 * Writes the set variables into `merged` (a plain copy of defaults + file, modified in place) and
 * returns the ones applied. A number that does not parse is written as its text, so that the
 * schema rejects it and the message names the variable.
 */
export function applyEnv(merged: Record<string, unknown>, env: Env): AppliedEnv[] {
  const applied: AppliedEnv[] = [];
  for (const s of ENV_SETTINGS) {
    const raw = env[s.name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = s.kind === 'number' && Number.isFinite(Number(raw)) ? Number(raw) : s.kind === 'boolean' ? booleanValue(raw) : raw.trim();
    let node = merged;
    for (const key of s.path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[s.path[s.path.length - 1]!] = value;
    applied.push({ name: s.name, value: raw, path: s.path });
  }
  return applied;
}

const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false };

/** true/false, 1/0, yes/no, on/off in any case; undefined for anything else. */
export function parseBoolean(raw: string): boolean | undefined {
  return BOOLEANS[raw.trim().toLowerCase()];
}

/** A boolean, or the text kept for the schema to reject under the variable's name. */
function booleanValue(raw: string): boolean | string {
  return parseBoolean(raw) ?? raw.trim();
}

/** The variable that set `path`, if one did. */
export function envFor(applied: readonly AppliedEnv[], path: readonly (string | number)[]): AppliedEnv | undefined {
  return applied.find((a) => a.path.length <= path.length && a.path.every((k, i) => k === path[i]));
}
