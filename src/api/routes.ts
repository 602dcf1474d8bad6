/**
 * The local API's endpoints: what each one answers, which ones change state (and so need the
 * token), and their machine-readable description (OpenAPI 3.1, served at /api/v1/openapi.json).
 * The daemon implements DaemonApi; request bodies are validated here, once, at the boundary.
 */
import { z } from 'zod';
import { durationSeconds } from '../config/index.js';
import { VERSION } from '../version.js';
import { ApiError } from './errors.js';

export interface ApiRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export interface ApiAnswer {
  status?: number;
  body: unknown;
}

export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  summary: string;
  /** Changes state: needs the bearer token. */
  auth: boolean;
  query?: Record<string, string>;
  /** The JSON body's fields, described. */
  body?: Record<string, string>;
  handler: (req: ApiRequest) => ApiAnswer | Promise<ApiAnswer>;
}

export interface HistoryQuery {
  since?: number;
  until?: number;
  resolution: 'raw' | 'hour';
  limit?: number;
}

export interface ProcessQuery {
  action?: string;
  tier?: string;
  limit?: number;
}

/** A window of data time: since an absolute time, or a duration back from the latest data; until an absolute time. */
export interface CompareWindow {
  /** Unix seconds. */
  since?: number;
  /** Seconds back from the latest data (the wall clock, or a replay's latest snapshot); default a day. */
  ago?: number;
  /** Unix seconds (default: the latest data). */
  until?: number;
}

/** Who asked for a change, and why (journaled). */
export interface Actor {
  who: string;
  reason: string;
}

/** What the daemon answers; each method's result is the endpoint's JSON. */
export interface DaemonApi {
  status(): unknown;
  kpis(): unknown;
  kpiHistory(q: HistoryQuery): unknown;
  processes(q: ProcessQuery): unknown;
  explain(target: string): unknown;
  profiles(): unknown;
  /** Each profile over a window, in force and as a shadow, side by side. */
  compareProfiles(q: CompareWindow): unknown;
  profile(): unknown;
  setProfile(profile: string, by: Actor): unknown;
  pin(profile: string, forSeconds: number | null, by: Actor): unknown;
  unpin(by: Actor): unknown;
  journal(q: { since?: number; limit?: number }): unknown;
  config(): unknown;
  /** Rejects with ApiError(422) and the configuration's error when the file is broken. */
  reload(by: Actor): unknown;
  controlStatus(): unknown;
  controlStart(by: Actor): unknown;
  controlStop(by: Actor): unknown;
  /** A check of the control loop now, due or not. */
  controlCheck(by: Actor): unknown;
  controlHistory(q: { since?: number; limit?: number; changes?: boolean }): unknown;
  /** Stops the loop, pins conservative, raises the rollback event and archives state and logs. */
  rollback(by: Actor): Promise<unknown>;
}

const actor = { who: z.string().max(200).optional(), reason: z.string().max(500).optional() };
const setBody = z.strictObject({ profile: z.string().min(1), ...actor });
/** The longest pin: a year (a pin meant for good has no `for`). */
const MAX_PIN_SECONDS = 366 * 86400;
export const PIN_DURATION_HINT = 'a duration from 1s to 366d, such as 30m, 2h or 1d';

/** A pin's duration in seconds (seconds, or `30m`, `2h`, `1d`), or null when it is not one from 1 s to 366 days. */
export function pinSeconds(value: number | string): number | null {
  let seconds = NaN;
  try {
    seconds = durationSeconds(value);
  } catch {
    // not a duration
  }
  return seconds >= 1 && seconds <= MAX_PIN_SECONDS ? seconds : null;
}

const pinFor = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const seconds = pinSeconds(v);
    if (seconds === null) {
      ctx.addIssue({ code: 'custom', message: PIN_DURATION_HINT });
      return z.NEVER;
    }
    return seconds;
  });
const pinBody = z.strictObject({ profile: z.string().min(1), for: pinFor.optional(), ...actor });
const actorBody = z.strictObject(actor);

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ApiError(400, `body${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`);
  }
  return r.data;
}

function by(b: { who?: string; reason?: string }, fallback: string): Actor {
  return { who: b.who || 'api', reason: b.reason || fallback };
}

function numberParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ApiError(400, `query ${name}: not a number ("${raw}")`);
  return n;
}

/** Most rows one answer carries: reading them is synchronous (a week of raw 60 s rows). */
export const MAX_ROWS = 10080;

function limitParam(q: URLSearchParams): number | undefined {
  const n = numberParam(q, 'limit');
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= MAX_ROWS)) throw new ApiError(400, `query limit: a whole number from 1 to ${MAX_ROWS} (got "${q.get('limit')}")`);
  return n;
}

const UNIX_SECONDS = /^\d+(\.\d+)?$/;
export const SINCE_HINT = 'a duration back from the latest data such as 24h, 30m or 7d, or unix seconds';

/** `since`: unix seconds, or a positive duration back from the latest data (`24h`); null when it is neither. */
export function sinceParam(value: string): { since: number } | { ago: number } | null {
  const v = value.trim();
  if (UNIX_SECONDS.test(v)) return { since: Number(v) };
  try {
    const ago = durationSeconds(v);
    return ago > 0 ? { ago } : null;
  } catch {
    return null;
  }
}

function windowParam(q: URLSearchParams): CompareWindow {
  const raw = q.get('since');
  const since = raw === null || raw === '' ? {} : sinceParam(raw);
  if (since === null) throw new ApiError(400, `query since: ${SINCE_HINT} (got "${raw}")`);
  return { ...since, until: numberParam(q, 'until') };
}

/** The endpoints, in the order the description lists them. */
export function apiRoutes(d: DaemonApi): Route[] {
  return [
    { method: 'GET', path: '/api/v1/status', summary: 'The agent at a glance: profile and why, KPIs, own CPU and memory, export health.', auth: false, handler: () => ({ body: d.status() }) },
    { method: 'GET', path: '/api/v1/kpis', summary: 'The latest interval\'s KPIs.', auth: false, handler: () => ({ body: d.kpis() }) },
    {
      method: 'GET',
      path: '/api/v1/kpis/history',
      summary: 'KPI history: raw intervals (7 days) or hourly rollups (90 days), oldest first.',
      auth: false,
      query: { since: 'unix seconds', until: 'unix seconds', resolution: 'raw (default) or hour', limit: 'rows, newest kept' },
      handler: ({ query }) => {
        const resolution = query.get('resolution') ?? 'raw';
        if (resolution !== 'raw' && resolution !== 'hour') throw new ApiError(400, `query resolution: raw or hour (got "${resolution}")`);
        return { body: d.kpiHistory({ since: numberParam(query, 'since'), until: numberParam(query, 'until'), limit: limitParam(query), resolution }) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/processes',
      summary: 'Every process of the latest interval with its decision (keep, sample, rollup) and reason.',
      auth: false,
      query: { action: 'keep, sample or rollup', tier: 'a tier name', limit: 'most processes, by usage' },
      handler: ({ query }) => ({ body: d.processes({ action: query.get('action') ?? undefined, tier: query.get('tier') ?? undefined, limit: limitParam(query) }) }),
    },
    { method: 'GET', path: '/api/v1/processes/:target', summary: 'The decision for a pid, or for every process of a name, with the numbers behind it.', auth: false, handler: ({ params }) => ({ body: d.explain(params.target!) }) },
    { method: 'GET', path: '/api/v1/profiles', summary: 'The profiles of the configuration, and the one in force.', auth: false, handler: () => ({ body: d.profiles() }) },
    {
      method: 'GET',
      path: '/api/v1/profiles/compare',
      summary: 'Each profile over a window, side by side: cost, series, reduction, coverage and visibility, from the intervals it was in force (measured) and those it ran as a shadow profile on the same snapshots.',
      auth: false,
      query: { since: `${SINCE_HINT} (default 24h)`, until: 'unix seconds (default: the latest data)' },
      handler: ({ query }) => ({ body: d.compareProfiles(windowParam(query)) }),
    },
    { method: 'GET', path: '/api/v1/profile', summary: 'The profile in force and why (pin, operator, configuration).', auth: false, handler: () => ({ body: d.profile() }) },
    {
      method: 'PUT',
      path: '/api/v1/profile',
      summary: 'Set the active profile (kept across restarts; a pin still wins).',
      auth: true,
      body: { profile: 'profile name', who: 'who asks (journal)', reason: 'why (journal)' },
      handler: ({ body }) => {
        const b = parseBody(setBody, body);
        return { body: d.setProfile(b.profile, by(b, 'set by operator')) };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/profile/pin',
      summary: 'Pin a profile, over schedules and the control loop, optionally for a while.',
      auth: true,
      body: { profile: 'profile name', for: 'seconds or a duration (30m, 2h, 1d); none: until unpinned', who: 'who asks', reason: 'why' },
      handler: ({ body }) => {
        const b = parseBody(pinBody, body);
        return { body: d.pin(b.profile, b.for ?? null, by(b, 'pinned by operator')) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/profile/pin',
      summary: 'Remove the pin.',
      auth: true,
      handler: ({ query }) => ({ body: d.unpin({ who: query.get('who') || 'api', reason: query.get('reason') || 'unpinned by operator' }) }),
    },
    {
      method: 'GET',
      path: '/api/v1/journal',
      summary: 'Profile changes: from, to, reason, who, when (newest first).',
      auth: false,
      query: { since: 'unix seconds', limit: 'entries (default 100)' },
      handler: ({ query }) => ({ body: d.journal({ since: numberParam(query, 'since'), limit: limitParam(query) }) }),
    },
    { method: 'GET', path: '/api/v1/config', summary: 'The configuration in force (secrets redacted), its file and the environment variables applied.', auth: false, handler: () => ({ body: d.config() }) },
    {
      method: 'POST',
      path: '/api/v1/config/reload',
      summary: 'Reload the configuration file; a broken file is refused (422) and the previous configuration stays.',
      auth: true,
      body: { who: 'who asks' },
      handler: ({ body }) => ({ body: d.reload(by(parseBody(actorBody, body), 'reload')) }),
    },
    { method: 'GET', path: '/api/v1/control', summary: 'The control loop: running or stopped (by whom, why), targets, guard, freeze, the last check.', auth: false, handler: () => ({ body: d.controlStatus() }) },
    {
      method: 'POST',
      path: '/api/v1/control/start',
      summary: 'Start the control loop (kept across restarts).',
      auth: true,
      body: { who: 'who asks', reason: 'why (log)' },
      handler: ({ body }) => ({ body: d.controlStart(by(parseBody(actorBody, body), 'started by operator')) }),
    },
    {
      method: 'POST',
      path: '/api/v1/control/stop',
      summary: 'Stop the control loop (kept across restarts); the profile in force stays.',
      auth: true,
      body: { who: 'who asks', reason: 'why (log)' },
      handler: ({ body }) => ({ body: d.controlStop(by(parseBody(actorBody, body), 'stopped by operator')) }),
    },
    {
      method: 'POST',
      path: '/api/v1/control/check',
      summary: 'Run a check of the control loop now, due or not; answers with the check.',
      auth: true,
      body: { who: 'who asks' },
      handler: ({ body }) => ({ body: d.controlCheck(by(parseBody(actorBody, body), 'forced check')) }),
    },
    {
      method: 'GET',
      path: '/api/v1/control/history',
      summary: 'The control loop\'s checks with their inputs, outcome and reason (newest first).',
      auth: false,
      query: { since: 'unix seconds', limit: 'entries (default 100)', changes: 'true: only the checks that changed the profile' },
      handler: ({ query }) => ({ body: d.controlHistory({ since: numberParam(query, 'since'), limit: limitParam(query), changes: query.get('changes') === 'true' || query.get('changes') === '1' }) }),
    },
    {
      method: 'POST',
      path: '/api/v1/rollback',
      summary: 'Emergency rollback: stop the loop, pin conservative, raise the rollback event, archive state and logs (secrets redacted) for review.',
      auth: true,
      body: { who: 'who asks', reason: 'why (journal, event, archive)' },
      handler: async ({ body }) => ({ body: await d.rollback(by(parseBody(actorBody, body), 'emergency rollback')) }),
    },
  ];
}

/** OpenAPI 3.1 description of the routes (plus /metrics). */
export function openApi(routes: readonly Route[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {
    '/metrics': { get: { summary: 'Prometheus text exposition of the latest interval.', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
  };
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...[...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(r.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ];
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(r.auth ? { security: [{ bearer: [] }] } : {}),
      ...(r.body
        ? {
            requestBody: {
              content: {
                'application/json': {
                  schema: { type: 'object', properties: Object.fromEntries(Object.entries(r.body).map(([k, v]) => [k, { description: v }])) },
                },
              },
            },
          }
        : {}),
      responses: {
        200: { description: 'JSON' },
        ...(r.auth ? { 401: { description: 'no token' }, 403: { description: 'wrong token' } } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'nrdot-plus local API', version: VERSION },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the api-token file in the data directory' } } },
    paths,
  };
}
