/**
 * JSON schemas of the API's answers and inputs: fastify validates requests against them and
 * @fastify/swagger turns them into the OpenAPI document (/api/v1/openapi.json). Answers whose
 * parts are open-ended (labels, attributes, KPIs) allow additional properties.
 */
export const str = { type: 'string' } as const;
export const nstr = { type: ['string', 'null'] } as const;
export const num = { type: 'number' } as const;
export const nnum = { type: ['number', 'null'] } as const;
export const int = { type: 'integer' } as const;
export const bool = { type: 'boolean' } as const;
export const anyObject = { type: 'object', additionalProperties: true } as const;
export const nanyObject = { type: ['object', 'null'], additionalProperties: true } as const;
export const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

export function object(properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return { type: 'object', properties, required, additionalProperties: true };
}

export const arrayOf = (items: unknown): Record<string, unknown> => ({ type: 'array', items });

const errorSchema = object({ error: str }, ['error']);

/** Error answers by status, for a route's `response`. */
export function errors(...codes: number[]): Record<number, unknown> {
  return Object.fromEntries(codes.map((c) => [c, { ...errorSchema, description: ERROR_DESCRIPTIONS[c] ?? 'error' }]));
}
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'the request is invalid; the message names the field (and the line of a configuration)',
  401: 'no token, or not one of this hub\'s',
  403: 'the read token on a change',
  404: 'no such agent, configuration, pin or request',
  409: 'the agent cannot answer this (it does not offer io.nrdot.plus/v1)',
  503: 'the database does not answer',
};

/** Errors every read route may answer. */
export const READ_ERRORS = [400, 401] as const;
export const WRITE_ERRORS = [400, 401, 403] as const;

export const kpisSchema = {
  type: ['object', 'null'],
  additionalProperties: true,
  properties: {
    time: nstr,
    profile: nstr,
    cost_per_hour_baseline: nnum,
    cost_per_hour_optimized: nnum,
    datapoints_baseline: nnum,
    datapoints_exported: nnum,
    reduction: nnum,
    coverage_critical: nnum,
    visibility: nnum,
    agent_cpu_percent: nnum,
    agent_rss_bytes: nnum,
    shadow_cost_per_hour: anyObject,
    extra: anyObject,
  },
} as const;

const configRef = object({ name: str, version: int, priority: int });

export const agentSummarySchema = object(
  {
    instance_uid: str,
    kind: str,
    labels: stringMap,
    status: str,
    offline_since: nstr,
    last_seen: nstr,
    host: nstr,
    version: nstr,
    profile: nstr,
    profile_reason: nstr,
    config_status: { type: 'string', description: 'APPLIED, APPLYING, FAILED (as reported for what the hub wants now), PENDING (not reported yet) or NONE' },
    config_error: nstr,
    configs: arrayOf(configRef),
    fleet_pin: nanyObject,
    health: nanyObject,
    kpis: kpisSchema,
    warnings: arrayOf(str),
  },
  ['instance_uid', 'labels', 'status', 'profile', 'config_status', 'kpis'],
);

export const agentDetailSchema = {
  ...agentSummarySchema,
  properties: {
    ...(agentSummarySchema.properties as Record<string, unknown>),
    first_seen: nstr,
    sequence_num: num,
    observed_interval_seconds: nnum,
    transport: nstr,
    description: nanyObject,
    capabilities: num,
    custom_capabilities: arrayOf(str),
    effective_config: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    remote_config_status: nanyObject,
    desired_config_hash: str,
    sent_config_hash: nstr,
  },
};

export const configSchema = object(
  { name: str, version: int, selector: str, priority: int, opaque: bool, content_type: str, hash: str, created: nstr, by: str, agents: int },
  ['name', 'version', 'selector', 'priority', 'opaque', 'hash'],
);

export const pinSchema = object({ id: int, selector: str, profile: str, until: nstr, by: str, reason: str, owner: str, owner_id: nstr, created: nstr });

export const journalSchema = object({ id: int, time: nstr, actor: str, action: str, target: str, details: anyObject });

/** What a change would do on one agent (dry runs). */
export const agentChangeSchema = object({
  instance_uid: str,
  host: nstr,
  labels: stringMap,
  status: str,
  configs_added: arrayOf(str),
  configs_changed: arrayOf(str),
  configs_removed: arrayOf(str),
  pin_before: nstr,
  pin_after: nstr,
});

export const dryRunSchema = object({ dry_run: bool, agents: arrayOf(agentChangeSchema), reached: int }, ['dry_run', 'agents']);

export const kpiPointSchema = object({ time: nstr, group: str, profile: str, agents: int, values: anyObject, min: anyObject, samples: int });

/** `from` / `to`: Unix milliseconds or an ISO 8601 time. */
export const timeRangeQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', description: 'Unix milliseconds or ISO 8601 (default: an hour before `to`)' },
    to: { type: 'string', description: 'Unix milliseconds or ISO 8601 (default: now)' },
  },
} as const;

export const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['id'] } as const;
export const nameParams = { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['name'] } as const;
