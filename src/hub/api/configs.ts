/** /api/v1/configs: fleet configurations, named and versioned, validated before they are stored. */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../context.js';
import type { FleetConfig } from '../store/types.js';
import { planChange } from './dry-run.js';
import { notFound } from './errors.js';
import { AGENTS_CHANGED, loadFleet, requireSelector } from './fleet.js';
import { arrayOf, bool, configSchema, dryRunSchema, errors, int, nameParams, object, READ_ERRORS, str, WRITE_ERRORS } from './schemas.js';
import { checkConfigName, validateFragment } from './validate.js';
import { configView, selected } from './view.js';

interface ApplyBody {
  name: string;
  selector: string;
  priority?: number;
  opaque?: boolean;
  body: string;
  content_type?: string;
  dry_run?: boolean;
}

const applyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'selector', 'body'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 63, description: 'lowercase letters, digits, ".", "_", "-"; names the file on the agents (fleet/NN-NAME.yaml)' },
    selector: { type: 'string', maxLength: 4096, description: 'Kubernetes-style: env=prod,role in (db,web),!canary; "" selects every agent' },
    priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000, default: 0, description: 'applying order: ascending priority, then name; a later one wins' },
    opaque: { type: 'boolean', default: false, description: 'for other OpAMP agents: sent as is, not validated against the NRDOT schema' },
    body: { type: 'string', description: 'the fragment (YAML for NRDOT agents), verbatim' },
    content_type: { type: 'string', maxLength: 200, default: 'text/yaml' },
    dry_run: { type: 'boolean', default: false, description: 'answer which agents the change reaches and what it changes, store nothing' },
  },
} as const;

export function configRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store } = ctx;

  app.get('/configs', {
    schema: { summary: 'The fleet configurations (current versions) and how many agents each selects', tags: ['configs'], response: { 200: arrayOf(configSchema), ...errors(...READ_ERRORS) } },
  }, async () => {
    const { agents, configs } = await loadFleet(store);
    return configs.map((c) => configView(c, selected(agents, c.selector).length));
  });

  app.get<{ Params: { name: string }; Querystring: { version?: number } }>('/configs/:name', {
    schema: {
      summary: 'One configuration: its current version (or ?version=N), its body and its versions',
      tags: ['configs'],
      params: nameParams,
      querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } },
      response: { 200: object({ config: configSchema, body: str, versions: arrayOf(object({ version: int, hash: str, created: str, by: str })) }), ...errors(...READ_ERRORS, 404) },
    },
  }, async (req) => {
    const { name } = req.params;
    const current = await store.getConfig(name);
    const wanted = req.query.version === undefined ? current : await store.getConfig(name, req.query.version);
    if (!wanted) throw notFound(current ? `configuration ${name} has no version ${req.query.version} (latest: ${current.version})` : `no configuration named ${name} (fleet config list shows them)`);
    const versions: FleetConfig[] = [];
    const latest = current?.version ?? wanted.version;
    for (let v = latest; v >= 1 && versions.length < 50; v--) {
      const c = v === wanted.version ? wanted : await store.getConfig(name, v);
      if (c) versions.push(c);
    }
    const agents = (await loadFleet(store)).agents;
    return {
      config: configView(wanted, selected(agents, wanted.selector).length),
      body: wanted.body,
      versions: versions.map((c) => ({ version: c.version, hash: c.hash, created: new Date(c.createdMs).toISOString(), by: c.by })),
    };
  });

  app.post<{ Body: ApplyBody }>('/configs', {
    config: { access: 'admin' },
    schema: {
      summary: 'Store a new version of a configuration (validated unless opaque) and push it to the agents it selects; dry_run answers what it would change',
      tags: ['configs'],
      body: applyBody,
      response: {
        200: { ...dryRunSchema, description: 'a dry run, or nothing changed (unchanged: true)' },
        201: object({ config: configSchema, unchanged: bool, reached: int }),
        ...errors(...WRITE_ERRORS),
      },
    },
  }, async (req, reply) => {
    const b = req.body;
    checkConfigName(b.name);
    const selector = requireSelector(b.selector);
    const opaque = b.opaque ?? false;
    validateFragment(b.name, b.body, opaque, ctx.settings.allowExporters);
    const now = ctx.now();
    const fleet = await loadFleet(store);
    const current = fleet.configs.find((c) => c.name === b.name) ?? null;
    const input = { name: b.name, selector, priority: b.priority ?? 0, opaque, body: b.body, contentType: b.content_type ?? 'text/yaml', by: req.actor };
    const hash = createHash('sha256').update(b.body, 'utf8').digest('hex');
    const candidate: FleetConfig = { ...input, version: (current?.version ?? 0) + 1, hash, createdMs: now };
    const after = { configs: [...fleet.configs.filter((c) => c.name !== b.name), candidate], pins: fleet.pins };
    const plan = planChange(fleet.agents, fleet, after, now);
    if (b.dry_run) return reply.code(200).send({ ...plan, name: b.name, version: candidate.version });
    const same = current && current.hash === hash && current.selector === selector && current.priority === input.priority && current.opaque === opaque && current.contentType === input.contentType;
    if (same) return reply.code(200).send({ dry_run: false, unchanged: true, agents: [], reached: 0, config: configView(current, selected(fleet.agents, selector).length) });
    const stored = await store.putConfig(input, now);
    await store.appendJournal({
      timeMs: now,
      actor: req.actor,
      action: 'config.apply',
      target: stored.name,
      details: { version: stored.version, selector, priority: stored.priority, opaque, hash: stored.hash, agents: plan.reached },
    });
    await store.notify(AGENTS_CHANGED);
    ctx.log.info({ config: stored.name, version: stored.version, selector, agents: plan.reached, actor: req.actor }, `fleet config ${stored.name} version ${stored.version} stored (${req.actor}); it changes ${plan.reached} agent(s)`);
    return reply.code(201).send({ config: configView(stored, selected(fleet.agents, selector).length), unchanged: false, reached: plan.reached });
  });

  app.delete<{ Params: { name: string } }>('/configs/:name', {
    config: { access: 'admin' },
    schema: {
      summary: 'Remove a configuration; the agents it selected get their new set',
      tags: ['configs'],
      params: nameParams,
      response: { 200: object({ removed: str, reached: int }), ...errors(...WRITE_ERRORS, 404) },
    },
  }, async (req) => {
    const { name } = req.params;
    const now = ctx.now();
    const fleet = await loadFleet(store);
    const plan = planChange(fleet.agents, fleet, { configs: fleet.configs.filter((c) => c.name !== name), pins: fleet.pins }, now);
    if (!(await store.removeConfig(name, req.actor, now))) throw notFound(`no configuration named ${name} (fleet config list shows them)`);
    await store.appendJournal({ timeMs: now, actor: req.actor, action: 'config.remove', target: name, details: { agents: plan.reached } });
    await store.notify(AGENTS_CHANGED);
    ctx.log.info({ config: name, agents: plan.reached, actor: req.actor }, `fleet config ${name} removed (${req.actor}); it changes ${plan.reached} agent(s)`);
    return { removed: name, reached: plan.reached };
  });
}
