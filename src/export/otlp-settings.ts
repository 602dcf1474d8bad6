/**
 * Where and how the OTLP/HTTP exporter sends (SPEC, "Export"), from the OpenTelemetry environment
 * variables over the config file's `exporters.otlp` over the defaults. The signal-specific variables
 * (`OTEL_EXPORTER_OTLP_METRICS_*`) win over the general ones, as the OpenTelemetry specification says.
 *
 * New Relic: with `NEW_RELIC_LICENSE_KEY` set, the key goes in the `api-key` header, and without an
 * explicit endpoint the US or EU OTLP endpoint is used. Header values are secrets: no message built
 * here quotes one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '../command/errors.js';
import { dataDir, durationSeconds, type Config } from '../config/index.js';
import { describeFileError } from '../file-errors.js';
import type { Temporality } from '../otlp/encode.js';

export const NEW_RELIC_ENDPOINTS = { us: 'https://otlp.nr-data.net', eu: 'https://otlp.eu01.nr-data.net' } as const;
export const METRICS_PATH = '/v1/metrics';
/** Largest request body as sent (New Relic's limit, SPEC "Export"). */
export const MAX_REQUEST_BYTES = 1_000_000;
/** Longest request timeout (OTEL_EXPORTER_OTLP_TIMEOUT; exporters.otlp.timeout is bounded by the schema alike). */
export const MAX_TIMEOUT_MS = 300_000;

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface OtlpSettings {
  /** The full URL requests go to. */
  url: string;
  /** Where the URL came from, for the start-up log line. */
  urlSource: string;
  /** Request headers, the api-key among them (never log the values; src/config/secrets.ts scrubs them). */
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  temporality: Temporality;
  tls: TlsFiles;
  queueDir: string;
  queueMaxBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
  maxRequestsPerSecond: number;
  /** Longest random wait before the first export. */
  splayMs: number;
  /** Said once at start (an api-key over plain http). */
  warnings: string[];
}

export type OtlpResolution = { enabled: true; settings: OtlpSettings } | { enabled: false; reason: string };

type Env = Record<string, string | undefined>;

/** The first non-empty value among the named variables, with its name. */
function fromEnv(env: Env, ...names: string[]): { name: string; value: string } | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return null;
}

/** A bad value: under an environment variable's name exit code 2 (a bad variable), under a configuration field's 1. */
function bad(where: string, message: string): UserError {
  return /^(OTEL|NEW_RELIC)_/.test(where) ? new UsageError(`${where}: ${message}`) : new UserError(`${where}: ${message}`);
}

const general = (suffix: string): string[] => [`OTEL_EXPORTER_OTLP_METRICS_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`];

function checkUrl(value: string, where: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(where, 'not a URL (expected http:// or https://, for example https://otlp.nr-data.net)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw bad(where, `${url.protocol} is not supported (OTLP/HTTP needs http:// or https://)`);
  }
  if (url.username || url.password) throw bad(where, 'credentials in the URL are not supported; use headers');
  return url.href;
}

/** Base URL plus `/v1/metrics` (OTEL_EXPORTER_OTLP_ENDPOINT semantics). */
function withMetricsPath(base: string): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, '') + METRICS_PATH;
  return url.href;
}

/**
 * OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs separated by commas, values percent-encoded
 * (W3C Baggage without properties). A malformed entry names the variable and its position only.
 */
export function parseHeaders(text: string, where: string): Record<string, string> {
  const headers: Record<string, string> = {};
  text.split(',').forEach((entry, i) => {
    if (entry.trim() === '') return;
    const eq = entry.indexOf('=');
    const key = eq > 0 ? entry.slice(0, eq).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key)) {
      throw bad(where, `entry ${i + 1} is not key=value (expected key1=value1,key2=value2)`);
    }
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw bad(where, `the value of "${key}" is not valid percent-encoding`);
    }
    headers[key] = value;
  });
  return headers;
}

function readPem(path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`${where}: ${path}: ${describeFileError(err)}`);
  }
}

/**
 * The exporter's settings, or why it is off (no endpoint and no license key). Throws UserError naming
 * the variable or config field of a bad value.
 */
export function resolveOtlp(config: Config, collectionIntervalSeconds: number, env: Env = process.env): OtlpResolution {
  const otlp = config.exporters.otlp;
  const licenseKey = env.NEW_RELIC_LICENSE_KEY?.trim() ?? '';

  const protocol = fromEnv(env, ...general('PROTOCOL'));
  if (protocol && protocol.value !== 'http/protobuf') {
    throw new UsageError(`${protocol.name}=${protocol.value}: only http/protobuf is supported`);
  }

  let url: string;
  let urlSource: string;
  const metricsEndpoint = fromEnv(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const baseEndpoint = fromEnv(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (metricsEndpoint) {
    url = checkUrl(metricsEndpoint.value, metricsEndpoint.name);
    urlSource = metricsEndpoint.name;
  } else if (baseEndpoint) {
    url = withMetricsPath(checkUrl(baseEndpoint.value, baseEndpoint.name));
    urlSource = baseEndpoint.name;
  } else if (otlp.metrics_endpoint) {
    url = checkUrl(otlp.metrics_endpoint, 'exporters.otlp.metrics_endpoint');
    urlSource = 'exporters.otlp.metrics_endpoint';
  } else if (otlp.endpoint) {
    url = withMetricsPath(checkUrl(otlp.endpoint, 'exporters.otlp.endpoint'));
    urlSource = 'exporters.otlp.endpoint';
  } else if (licenseKey) {
    const region = otlp.newrelic === 'auto' ? (licenseKey.toLowerCase().startsWith('eu') ? 'eu' : 'us') : otlp.newrelic;
    url = withMetricsPath(NEW_RELIC_ENDPOINTS[region]);
    urlSource = `New Relic ${region.toUpperCase()} (NEW_RELIC_LICENSE_KEY${otlp.newrelic === 'auto' ? '' : `, exporters.otlp.newrelic: ${region}`})`;
  } else {
    return {
      enabled: false,
      reason: 'no endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, exporters.otlp.endpoint) and no NEW_RELIC_LICENSE_KEY',
    };
  }

  const headers: Record<string, string> = {};
  /** Where each header came from, to name it in an error. */
  const headerSource: Record<string, string> = {};
  for (const [name, value] of Object.entries(otlp.headers ?? {})) {
    headers[name.toLowerCase()] = value;
    headerSource[name.toLowerCase()] = `exporters.otlp.headers.${name}`;
  }
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS']) {
    const text = env[name]?.trim();
    if (!text) continue;
    for (const [key, value] of Object.entries(parseHeaders(text, name))) {
      headers[key] = value;
      headerSource[key] = name;
    }
  }
  // An api-key given explicitly as a header wins over the license key variable.
  if (licenseKey && headers['api-key'] === undefined) {
    headers['api-key'] = licenseKey;
    headerSource['api-key'] = 'NEW_RELIC_LICENSE_KEY';
  }
  for (const [name, value] of Object.entries(headers)) {
    // What an HTTP header may carry: visible Latin-1 and spaces, no line breaks or controls.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw bad(headerSource[name]!, `header "${name}": its value has characters a header cannot carry (line breaks, controls or non-Latin-1)`);
    }
  }
  const warnings: string[] = [];
  const target = new URL(url);
  if (target.protocol === 'http:' && headers['api-key'] !== undefined && !/^(127\.|localhost$|\[::1\]$)/.test(target.hostname)) {
    warnings.push(`the api-key goes to ${target.host} over plain http (unencrypted); use https`);
  }

  const compression = fromEnv(env, ...general('COMPRESSION'));
  if (compression && compression.value !== 'gzip' && compression.value !== 'none') {
    throw new UsageError(`${compression.name}: must be gzip or none (got "${compression.value}")`);
  }

  let timeoutMs = durationSeconds(otlp.timeout) * 1000;
  const timeout = fromEnv(env, ...general('TIMEOUT'));
  if (timeout) {
    timeoutMs = Number(timeout.value);
    if (!/^\d+$/.test(timeout.value) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new UsageError(`${timeout.name}: must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS} (5 minutes) (got "${timeout.value}")`);
    }
  }

  let temporality: Temporality = otlp.temporality;
  const preference = fromEnv(env, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');
  if (preference) {
    const value = preference.value.toLowerCase();
    if (value === 'cumulative') temporality = 'cumulative';
    else if (value === 'delta' || value === 'lowmemory') temporality = 'delta';
    else throw new UsageError(`${preference.name}: must be delta, cumulative or lowmemory (got "${preference.value}")`);
  }

  const tls: TlsFiles = {};
  const pem = (envSuffix: string, field: 'certificate' | 'client_certificate' | 'client_key'): string | undefined => {
    const fromVar = fromEnv(env, ...general(envSuffix));
    if (fromVar) return readPem(fromVar.value, fromVar.name);
    if (otlp[field]) return readPem(otlp[field], `exporters.otlp.${field}`);
    return undefined;
  };
  tls.ca = pem('CERTIFICATE', 'certificate');
  tls.cert = pem('CLIENT_CERTIFICATE', 'client_certificate');
  tls.key = pem('CLIENT_KEY', 'client_key');
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    throw new UserError('OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY (or exporters.otlp.client_certificate and client_key) go together');
  }

  const retryInitialMs = durationSeconds(otlp.retry.initial_interval) * 1000;
  const retryMaxMs = durationSeconds(otlp.retry.max_interval) * 1000;
  if (retryMaxMs < retryInitialMs) throw new UserError('exporters.otlp.retry.max_interval: must not be shorter than initial_interval');

  return {
    enabled: true,
    settings: {
      url,
      urlSource,
      headers,
      compression: (compression?.value as 'gzip' | 'none' | undefined) ?? otlp.compression,
      timeoutMs,
      temporality,
      tls,
      queueDir: join(dataDir(env), 'queue'),
      queueMaxBytes: otlp.queue_max_mb * 1e6,
      retryInitialMs,
      retryMaxMs,
      maxRequestsPerSecond: otlp.max_requests_per_second,
      splayMs: Math.min(durationSeconds(otlp.splay), collectionIntervalSeconds) * 1000,
      warnings,
    },
  };
}
