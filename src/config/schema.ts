/**
 * The optimization.yaml schema (SPEC, "Files and defaults"), validated once at the boundary.
 * Objects are strict: an unknown key is named as an error, not silently ignored (a typo in a
 * threshold would otherwise leave the default in force without a word).
 */
import { z } from 'zod';
import { ALERT_EVENTS, isAlertEvent, type AlertEvent } from '../alerts/events.js';
import { parseListen } from './listen.js';
import { compilePattern } from './pattern.js';

/** A pattern RE2 compiles (linear-time matching: see pattern.ts); lookarounds and backreferences are refused. */
const regex = z.string().superRefine((value, ctx) => {
  try {
    compilePattern(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression ${JSON.stringify(value)} (RE2 syntax: no lookarounds or backreferences): ${(err as Error).message}` });
  }
});

const fraction = z.number().min(0).max(1);
const nonNegative = z.number().min(0);
const count = z.number().int().min(0);

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** The longest delay a Node timer takes (2^31-1 ms, 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Bounds of every duration (seconds), so that none reaches a timer beyond setTimeout's 2^31-1 ms
 * (24.8 days; Node sets a longer one to 1 ms) or makes no sense. The README and docs/daemon.md list them.
 */
export const DURATION_BOUNDS = {
  collection_interval: { min: 1, max: 86_400 },
  check_interval: { min: 1, max: 86_400 },
  otlp_timeout: { min: 0.001, max: 300 },
  retry_interval: { min: 0.001, max: 3600 },
  splay: { min: 0, max: 3600 },
  anomaly_retention_minutes: { min: 0, max: 10_080 },
} as const;

/** "1 s", "5 min", "1 h", "1 d", "7 d": a bound for a message. */
export function describeSeconds(s: number): string {
  if (s >= 86_400 && s % 86_400 === 0) return `${s / 86_400} d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return s < 1 ? `${s * 1000} ms` : `${s} s`;
}

const boundMessage = (b: { min: number; max: number }): string => `must be from ${describeSeconds(b.min)} to ${describeSeconds(b.max)}`;

/** Seconds as a number within bounds. */
const seconds = (b: { min: number; max: number }) => z.number().min(b.min, boundMessage(b)).max(b.max, boundMessage(b));

/** A duration within bounds: seconds as a number, or a string such as `10s`, `500ms`, `5m`, `1h`, `1d`. */
const duration = (b: { min: number; max: number }) =>
  z.union([z.number(), z.string().regex(DURATION, 'a duration such as 10s, 500ms, 5m')]).superRefine((value, ctx) => {
    if (typeof value === 'string' && !DURATION.test(value.trim())) return; // named by the regex
    const s = durationSeconds(value);
    if (!(s >= b.min && s <= b.max)) ctx.addIssue({ code: 'custom', message: boundMessage(b) });
  });

/** Seconds of a duration (a number of seconds, or `10s`, `5m`, `2h`, `1d`, ...); throws on anything else. */
export function durationSeconds(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = DURATION.exec(value.trim());
  if (!m) throw new RangeError(`"${value}" is not a duration such as 30s, 5m, 2h or 1d`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}


/** Metric selectors: a metric name (all its points) or `name:attribute-value` (one state/direction). */
export const METRIC_SELECTORS = [
  'process.cpu.time',
  'process.cpu.time:user',
  'process.cpu.time:system',
  'process.cpu.time:wait',
  'process.memory.usage',
  'process.memory.virtual',
  'process.disk.io',
  'process.disk.io:read',
  'process.disk.io:write',
  'process.cpu.utilization',
  'process.threads',
  'process.open_file_descriptors',
  'process.context_switches',
  'process.paging.faults',
] as const;
export type MetricSelector = (typeof METRIC_SELECTORS)[number];

const rule = z
  .strictObject({
    name: regex.optional(),
    exe: regex.optional(),
    cmdline: regex.optional(),
    user: regex.optional(),
    /** Matches kernel threads by structure: child of kthreadd (or kthreadd), no exe, empty cmdline. */
    kernel_thread: z.boolean().optional(),
    /** A rule that must not match (in place of a negative lookahead, which RE2 does not have). */
    not: z
      .strictObject({ name: regex.optional(), exe: regex.optional(), cmdline: regex.optional(), user: regex.optional(), kernel_thread: z.boolean().optional() })
      .refine((r) => Object.keys(r).length > 0, { message: '"not" needs at least one of name, exe, cmdline, user, kernel_thread' })
      .optional(),
  })
  .refine((r) => Object.keys(r).some((k) => k !== 'not'), { message: 'a rule needs at least one of name, exe, cmdline, user, kernel_thread' });

const tier = z.strictObject({
  score: fraction,
  description: z.string().optional(),
  /** Process-name regexes per platform (`linux`, `common`); any match classifies. */
  patterns: z.record(z.string(), z.array(regex)).default({}),
  /** Rules on several fields; all fields given in one rule must match. */
  rules: z.array(rule).default([]),
});

const profile = z.strictObject({
  description: z.string().default(''),
  thresholds: z.strictObject({
    min_importance_score: fraction,
    cpu_threshold_percent: nonNegative,
    memory_threshold_mb: nonNegative,
    io_threshold_kb_per_sec: nonNegative,
  }),
  limits: z.strictObject({
    max_series_per_host: count,
    /** Top-K places per class: web, app, db_session, container, other, or any tier name. */
    top_k_per_class: z.record(z.string(), count),
    rollup_by: z.enum(['tier_executable', 'tier']),
    rollup_groups_per_tier: z.number().int().min(1),
    /**
     * Idle things get no place of their own: a process needs this composite share of the host's
     * usage to take a top-K place, and a rollup group to keep its name (else it joins `_other`).
     */
    min_share: fraction.default(0.005),
  }),
  anomaly: z.strictObject({
    retention_minutes: z
      .number()
      .min(0)
      .max(DURATION_BOUNDS.anomaly_retention_minutes.max, `must be from 0 to ${DURATION_BOUNDS.anomaly_retention_minutes.max} (7 days)`),
  }),
  metrics: z.strictObject({
    critical: z.array(z.enum(METRIC_SELECTORS)).min(1),
    other: z.array(z.enum(METRIC_SELECTORS)).min(1),
  }),
  /** false: no command lines on any series (emergency). */
  command_lines: z.boolean(),
  /** A few processes of the tail exported individually each interval, with `nrdot.sample.weight`. */
  sampling: z.strictObject({ reservoir_size: count }),
});

/** A user profile: any part left out is taken from the profile it extends (default balanced). */
const customProfile = z.looseObject({ extends: z.string().optional() });

/** A webhook: `url` empty (off) or http(s); `secret` signs each body (HMAC-SHA256, X-NRDOT-Signature). */
const webhook = z.strictObject({
  url: z.string().superRefine((value, ctx) => {
    if (value === '') return;
    let url: URL | null = null;
    try {
      url = new URL(value);
    } catch {
      // reported below
    }
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
      // The value itself is not quoted: a webhook URL may be a credential (src/config/redact.ts).
      const got = url ? `a ${url.protocol} URL` : 'something that is not a URL';
      ctx.addIssue({ code: 'custom', message: `must be empty (off) or an http(s) URL such as https://hooks.example.com/nrdot (got ${got})` });
    }
  }),
  secret: z.string().optional(),
});
export type WebhookConfig = z.output<typeof webhook>;

/** Webhooks by event: a key that is not an event is named, with the events there are. */
const webhooks = z
  .record(z.string(), webhook)
  .superRefine((hooks, ctx) => {
    for (const key of Object.keys(hooks)) {
      if (!isAlertEvent(key)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown event; events: ${ALERT_EVENTS.join(', ')}` });
    }
  })
  .transform((hooks) => hooks as Partial<Record<AlertEvent, WebhookConfig>>);

/**
 * `k=v,k=v` (as OTEL_EXPORTER_OTLP_HEADERS: values percent-decoded) or a mapping. A malformed entry is
 * named by its key only: a header value may be a credential.
 */
export function parseKeyValues(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const entries = text.split(',');
  for (const [i, entry] of entries.entries()) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const key = eq < 0 ? '' : entry.slice(0, eq).trim();
    // The entry itself is not quoted: it may be a credential missing its "=".
    if (key === '') return `entry ${i + 1} of ${entries.length} is not key=value (expected k=v,k=v)`;
    let value = entry.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      return `the value of "${key}" is not percent-encoded correctly`;
    }
    out[key] = value;
  }
  return out;
}

const keyValues = z.union([z.record(z.string(), z.string()), z.string()]).transform((value, ctx) => {
  if (typeof value !== 'string') return value;
  const parsed = parseKeyValues(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/** Labels: the hub's selectors match them (`env=prod,role=db`), so keys and values are plain tokens. */
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$/;
const labels = keyValues.superRefine((record, ctx) => {
  for (const [k, v] of Object.entries(record)) {
    if (!LABEL.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'a label key is letters, digits, ".", "_", "-", "/" (at most 64), starting and ending with a letter or digit' });
    else if (v !== '' && !LABEL.test(v)) ctx.addIssue({ code: 'custom', path: [k], message: `label value "${v}": letters, digits, ".", "_", "-", "/" (at most 64), starting and ending with a letter or digit` });
  }
});

/** The agent's link to a fleet hub over OpAMP (SPEC, "Fleet"); off while `endpoint` is empty. */
const fleet = z.strictObject({
  /** http(s):// (HTTP polling) or ws(s):// (WebSocket), e.g. http://127.0.0.1:4320/v1/opamp. */
  endpoint: z.string().superRefine((value, ctx) => {
    if (value === '') return;
    let url: URL | null = null;
    try {
      url = new URL(value);
    } catch {
      // below
    }
    if (!url || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `must be empty (off) or an http(s):// or ws(s):// URL such as http://127.0.0.1:4320/v1/opamp (got ${url ? `a ${url.protocol} URL` : 'something that is not a URL'})` });
    }
  }),
  labels,
  /** Sent with every OpAMP request; the enrollment secret as `authorization: Bearer ...`. Secrets: never shown. */
  headers: keyValues,
  /** PEM files: CA bundle to trust, and a client certificate and key for mutual TLS. */
  certificate: z.string(),
  client_certificate: z.string(),
  client_key: z.string(),
});

export const configSchema = z.strictObject({
  version: z.union([z.string(), z.number()]).transform(String),
  schema_version: z.literal(1),
  state: z.strictObject({ active_profile: z.string(), experiment_ring: count }),
  cost_model: z.strictObject({
    currency: z.string(),
    billing_model: z.enum(['bytes', 'datapoints']),
    per_gb: nonNegative,
    per_million_datapoints: nonNegative,
    collection_interval_seconds: seconds(DURATION_BOUNDS.collection_interval),
  }),
  critical_importance: fraction,
  process_classification: z.record(z.string(), tier),
  custom_classification: z.record(z.string(), tier),
  force_collect: z.array(rule),
  profiles: z.record(z.string(), profile),
  custom_profiles: z.record(z.string(), customProfile),
  control_loop: z.strictObject({
    /** false (the default): the loop is off until `nrdot-plus-ctl control start`, kept in the store. */
    enabled: z.boolean().default(false),
    check_interval: seconds(DURATION_BOUNDS.check_interval),
    target_reduction: fraction,
    max_cost_per_hour: nonNegative.optional(),
    max_series: count,
    target_series: count,
    min_visibility: fraction,
  }),
  advanced: z.strictObject({
    ewma: z.strictObject({ enabled: z.boolean(), alpha: z.number().gt(0).max(1) }),
    variance_detection: z.strictObject({
      enabled: z.boolean(),
      threshold_multiplier: z.number().positive(),
      warmup_intervals: count,
      min_cpu_percent_change: nonNegative,
      min_memory_mb_change: nonNegative,
    }),
    redaction: z.strictObject({
      /** Argument and variable names whose values are replaced by *** (case-insensitive substrings). */
      secret_names: z.array(z.string().min(1)),
      /** Extra regexes; every match in a command line is replaced by ***. */
      patterns: z.array(regex).default([]),
    }),
    time_based_rules: z.array(
      z.strictObject({ name: z.string(), schedule: z.string(), profile: z.string(), timezone: z.string().optional() }),
    ),
    /**
     * Profiles also run every interval on the same snapshot, for their KPIs only (`profile compare`);
     * the one in force is skipped. [] turns them off.
     */
    shadow_profiles: z.array(z.string()),
  }),
  exporters: z.strictObject({
    otlp: z.strictObject({
      /** Base URL; `/v1/metrics` is appended (as OTEL_EXPORTER_OTLP_ENDPOINT). */
      endpoint: z.string(),
      /** Full URL, used as is (as OTEL_EXPORTER_OTLP_METRICS_ENDPOINT). */
      metrics_endpoint: z.string().default(''),
      /** New Relic region when only a license key is given: auto = EU for keys starting "eu", else US. */
      newrelic: z.enum(['auto', 'us', 'eu']),
      compression: z.enum(['gzip', 'none']),
      timeout: duration(DURATION_BOUNDS.otlp_timeout),
      temporality: z.enum(['delta', 'cumulative']),
      headers: z.record(z.string(), z.string()).optional(),
      /** PEM files: CA bundle to trust, and a client certificate and key for mutual TLS. */
      certificate: z.string().default(''),
      client_certificate: z.string().default(''),
      client_key: z.string().default(''),
      queue_max_mb: z.number().positive(),
      /** Backoff between retries: from initial_interval, doubling, up to max_interval, with jitter. */
      retry: z.strictObject({ initial_interval: duration(DURATION_BOUNDS.retry_interval), max_interval: duration(DURATION_BOUNDS.retry_interval) }),
      /** Bound on the request rate while a backlog drains. */
      max_requests_per_second: z.number().positive(),
      /** Longest random wait before the first export (at most one collection interval). */
      splay: duration(DURATION_BOUNDS.splay),
    }),
    file: z.strictObject({ path: z.string(), max_mb: z.number().positive() }),
  }),
  server: z.strictObject({
    listen: z.string().superRefine((v, ctx) => {
      try {
        parseListen(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  }),
  webhooks,
  experiments: z.looseObject({ enabled: z.boolean() }),
  fleet,
});

/** The configuration as written (defaults and user file alike). */
export type ConfigFile = z.input<typeof configSchema>;
/** The validated configuration, defaults merged. */
export type Config = z.output<typeof configSchema>;
export type TierConfig = z.output<typeof tier>;
export type RuleConfig = z.output<typeof rule>;
export type ProfileConfig = z.output<typeof profile>;
export const profileSchema = profile;
