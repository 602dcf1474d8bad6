/**
 * /api/v1/agents: the registry (list by selector, one agent in full, forget), each agent's KPI
 * history, and the request channel the console uses to ask one agent for top, explain or its journal.
 */
import type { FastifyInstance } from 'fastify';
import { NRDOT_CAPABILITY } from '../../fleet/directives.js';
import type { HubContext } from '../context.js';
import { NOTIFY_AGENT_PREFIX } from '../fleet/engine.js';
import type { AgentRequest, RequestType } from '../store/types.js';
import { conflict, notFound } from './errors.js';
import { desiredFor, loadFleet, requireSelector, resolveAgent, timeRange } from './fleet.js';
import { agentDetailSchema, agentSummarySchema, anyObject, arrayOf, errors, idParams, kpiPointSchema, nstr, object, READ_ERRORS, str, timeRangeQuery, WRITE_ERRORS } from './schemas.js';
import { agentDetail, agentSummary, kpiPointView, selected } from './view.js';

const REQUEST_TYPES: RequestType[] = ['top', 'explain', 'journal'];

const requestSchema = object({ id: str, instance_uid: str, type: str, state: str, created: str, sent: nstr, answered: nstr, response: {} });

function requestView(r: AgentRequest): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return { id: r.id, instance_uid: r.instanceUid, type: r.type, state: r.state, created: new Date(r.createdMs).toISOString(), sent: iso(r.sentMs), answered: iso(r.answeredMs), response: r.response ?? null };
}

export function agentRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store } = ctx;

  app.get<{ Querystring: { selector?: string } }>('/agents', {
    schema: {
      summary: 'The agents (those a selector selects), with status, profile, configuration status and latest KPIs',
      tags: ['agents'],
      querystring: { type: 'object', properties: { selector: { type: 'string', maxLength: 4096, description: 'Kubernetes-style: env=prod,role in (db,web),!canary' } } },
      response: { 200: arrayOf(agentSummarySchema), ...errors(...READ_ERRORS) },
    },
  }, async (req) => {
    const fleet = await loadFleet(store);
    const now = ctx.now();
    const agents = req.query.selector === undefined ? fleet.agents : selected(fleet.agents, requireSelector(req.query.selector));
    return agents.map((a) => agentSummary(a, desiredFor(a, fleet.configs, fleet.pins, now)));
  });

  app.get<{ Params: { id: string } }>('/agents/:id', {
    schema: {
      summary: 'One agent in full: description, health, effective configuration (secrets redacted), configurations, KPIs (the UID or a unique start of it)',
      tags: ['agents'],
      params: idParams,
      response: { 200: agentDetailSchema, ...errors(...READ_ERRORS, 404) },
    },
  }, async (req) => {
    const agent = await resolveAgent(store, req.params.id);
    const fleet = await loadFleet(store);
    return agentDetail(agent, desiredFor(agent, fleet.configs, fleet.pins, ctx.now()));
  });

  app.delete<{ Params: { id: string } }>('/agents/:id', {
    config: { access: 'admin' },
    schema: {
      summary: 'Forget a decommissioned agent (it is registered again if it connects again)',
      tags: ['agents'],
      params: idParams,
      response: { 200: object({ forgotten: str }), ...errors(...WRITE_ERRORS, 404) },
    },
  }, async (req) => {
    const agent = await resolveAgent(store, req.params.id);
    if (!(await store.forgetAgent(agent.instanceUid))) throw notFound(`no agent "${req.params.id}"`);
    // Every replica drops its copy: the agent's next message registers it anew.
    await store.notify(`${NOTIFY_AGENT_PREFIX}${agent.instanceUid}`);
    await store.appendJournal({ timeMs: ctx.now(), actor: req.actor, action: 'agent.forget', target: agent.instanceUid, details: { host: agent.hostName, labels: agent.labels } });
    ctx.log.info({ instance_uid: agent.instanceUid, actor: req.actor }, `agent ${agent.instanceUid} (${agent.hostName ?? 'no host name'}) forgotten (${req.actor})`);
    return { forgotten: agent.instanceUid };
  });

  app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string } }>('/agents/:id/kpis', {
    schema: {
      summary: 'One agent\'s KPIs per minute (per hour beyond retention) over a time range',
      tags: ['kpis'],
      params: idParams,
      querystring: timeRangeQuery,
      response: { 200: object({ instance_uid: str, from: str, to: str, points: arrayOf(kpiPointSchema) }), ...errors(...READ_ERRORS, 404) },
    },
  }, async (req) => {
    const agent = await resolveAgent(store, req.params.id);
    const { fromMs, toMs } = timeRange(req.query, ctx.now());
    const points = await store.agentKpis(agent.instanceUid, fromMs, toMs);
    return { instance_uid: agent.instanceUid, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), points: points.map(kpiPointView) };
  });

  app.post<{ Params: { id: string }; Body: { type: RequestType; body?: Record<string, unknown> } }>('/agents/:id/requests', {
    schema: {
      summary: 'Ask one agent for top, explain or its profile journal (io.nrdot.plus/v1); answered within its next poll',
      tags: ['requests'],
      params: idParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: { type: { type: 'string', enum: REQUEST_TYPES }, body: anyObject },
      },
      response: { 202: requestSchema, ...errors(...READ_ERRORS, 404, 409) },
    },
  }, async (req, reply) => {
    const agent = await resolveAgent(store, req.params.id);
    if (!agent.customCapabilities.includes(NRDOT_CAPABILITY)) {
      throw conflict(`agent ${agent.instanceUid} does not offer ${NRDOT_CAPABILITY} (${agent.kind === 'nrdot' ? 'an older NRDOT agent' : 'not an NRDOT agent'}); it cannot answer ${req.body.type}`);
    }
    if (agent.status !== 'online') throw conflict(`agent ${agent.instanceUid} is offline${agent.offlineSinceMs ? ` since ${new Date(agent.offlineSinceMs).toISOString()}` : ''}; it cannot answer now`);
    const request = await store.enqueueRequest(agent.instanceUid, req.body.type, req.body.body ?? {}, ctx.now());
    await store.notify(`${NOTIFY_AGENT_PREFIX}${agent.instanceUid}`);
    return reply.code(202).send(requestView(request));
  });

  app.get<{ Params: { id: string } }>('/requests/:id', {
    schema: {
      summary: 'A request to an agent: its state (pending, sent, answered, expired) and the answer',
      tags: ['requests'],
      params: idParams,
      response: { 200: requestSchema, ...errors(...READ_ERRORS, 404) },
    },
  }, async (req) => {
    const r = await store.getRequest(req.params.id);
    if (!r) throw notFound(`no request "${req.params.id}"`);
    return requestView(r);
  });

}
