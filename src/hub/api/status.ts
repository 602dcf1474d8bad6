/** /api/v1/status (the fleet at a glance) and /api/v1/kpis (the fleet's KPI history). */
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../version.js';
import type { HubContext } from '../context.js';
import type { AgentRecord } from '../store/types.js';
import { loadFleet, timeRange } from './fleet.js';
import { arrayOf, errors, int, kpiPointSchema, nnum, num, object, READ_ERRORS, str, timeRangeQuery } from './schemas.js';
import { kpiPointView } from './view.js';

/** Round away float noise (sums of costs) for display. */
const round = (x: number): number => Number(x.toPrecision(12));

/**
 * Costs are summed over the agents online (an offline one costs nothing now); coverage is the
 * lowest any online agent reports; reduction is of the summed costs.
 */
export function fleetStatus(agents: readonly AgentRecord[], configs: number, pins: number): Record<string, unknown> {
  const online = agents.filter((a) => a.status === 'online');
  let baseline = 0;
  let optimized = 0;
  let withCost = 0;
  let coverage: number | null = null;
  const profiles: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  for (const a of agents) kinds[a.kind] = (kinds[a.kind] ?? 0) + 1;
  for (const a of online) {
    const profile = a.profile ?? a.kpis?.profile ?? 'unknown';
    profiles[profile] = (profiles[profile] ?? 0) + 1;
    const k = a.kpis;
    if (!k) continue;
    if (k.costPerHourBaseline !== null && k.costPerHourOptimized !== null) {
      baseline += k.costPerHourBaseline;
      optimized += k.costPerHourOptimized;
      withCost++;
    }
    if (k.coverageCritical !== null) coverage = coverage === null ? k.coverageCritical : Math.min(coverage, k.coverageCritical);
  }
  return {
    agents_total: agents.length,
    agents_online: online.length,
    agents_offline: agents.length - online.length,
    agents_reporting_kpis: withCost,
    cost_per_hour_baseline: round(baseline),
    cost_per_hour_optimized: round(optimized),
    reduction: baseline > 0 ? round(1 - optimized / baseline) : null,
    coverage_critical_min: coverage,
    profiles,
    kinds,
    configs,
    pins,
    hub_version: VERSION,
  };
}

export function statusRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store } = ctx;

  app.get('/status', {
    schema: {
      summary: 'The fleet at a glance: agents online, cost per hour (baseline and optimized, summed over agents online), reduction, lowest critical coverage, agents by profile',
      tags: ['fleet'],
      response: {
        200: object(
          {
            agents_total: int,
            agents_online: int,
            agents_offline: int,
            agents_reporting_kpis: int,
            cost_per_hour_baseline: num,
            cost_per_hour_optimized: num,
            reduction: nnum,
            coverage_critical_min: nnum,
            profiles: { type: 'object', additionalProperties: { type: 'integer' }, description: 'agents online by the profile in force' },
            kinds: { type: 'object', additionalProperties: { type: 'integer' } },
            configs: int,
            pins: int,
            hub_version: str,
          },
          ['agents_total', 'agents_online', 'cost_per_hour_baseline', 'cost_per_hour_optimized', 'reduction', 'coverage_critical_min', 'profiles'],
        ),
        ...errors(...READ_ERRORS),
      },
    },
  }, async () => {
    const fleet = await loadFleet(store);
    return fleetStatus(fleet.agents, fleet.configs.length, fleet.pins.length);
  });

  app.get<{ Querystring: { from?: string; to?: string } }>('/kpis', {
    schema: {
      summary: 'The fleet\'s KPIs per minute, per label group and profile, over a time range',
      tags: ['kpis'],
      querystring: timeRangeQuery,
      response: { 200: object({ from: str, to: str, points: arrayOf(kpiPointSchema) }), ...errors(...READ_ERRORS) },
    },
  }, async (req) => {
    const { fromMs, toMs } = timeRange(req.query, ctx.now());
    const points = await store.fleetKpis(fromMs, toMs);
    return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), points: points.map(kpiPointView) };
  });
}
