/**
 * /api/v1/pins: fleet pins set by an operator (`fleet profile set|unset`), and /api/v1/journal:
 * every change made on the hub, who made it and what it reached.
 */
import type { FastifyInstance } from 'fastify';
import { unknownProfile } from '../../config/load.js';
import { durationSeconds } from '../../config/schema.js';
import type { HubContext } from '../context.js';
import type { FleetPinRecord } from '../store/types.js';
import { planChange } from './dry-run.js';
import { badRequest, notFound } from './errors.js';
import { AGENTS_CHANGED, knownProfiles, loadFleet, parseTime, requireSelector } from './fleet.js';
import { arrayOf, dryRunSchema, errors, int, journalSchema, object, pinSchema, READ_ERRORS, WRITE_ERRORS } from './schemas.js';
import { journalView, pinView } from './view.js';

/** The longest a pin may be set for: a year (without --for it has no expiry). */
const MAX_PIN_SECONDS = 366 * 86_400;

interface SetBody {
  profile: string;
  selector: string;
  for?: string;
  reason?: string;
  dry_run?: boolean;
}

export function pinRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store } = ctx;

  app.get('/pins', {
    schema: { summary: 'Fleet pins in force (operators\', rollouts\', experiments\')', tags: ['pins'], response: { 200: arrayOf(pinSchema), ...errors(...READ_ERRORS) } },
  }, async () => (await store.listPins()).map(pinView));

  app.post<{ Body: SetBody }>('/pins', {
    config: { access: 'admin' },
    schema: {
      summary: 'Pin a profile on the agents a selector selects (fleet profile set); replaces the operator pin with the same selector',
      tags: ['pins'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['profile', 'selector'],
        properties: {
          profile: { type: 'string', minLength: 1, maxLength: 100 },
          selector: { type: 'string', maxLength: 4096 },
          for: { type: 'string', maxLength: 32, description: 'expiry, a duration such as 30m, 2h, 7d (none: until unset)' },
          reason: { type: 'string', maxLength: 500 },
          dry_run: { type: 'boolean', default: false },
        },
      },
      response: { 200: dryRunSchema, 201: object({ pin: pinSchema, replaced: int, reached: int }), ...errors(...WRITE_ERRORS) },
    },
  }, async (req, reply) => {
    const b = req.body;
    const selector = requireSelector(b.selector);
    const now = ctx.now();
    const fleet = await loadFleet(store);
    const profiles = knownProfiles(fleet.configs);
    if (!profiles.includes(b.profile)) throw badRequest(`profile: ${unknownProfile(b.profile, profiles)}`);
    let until: number | null = null;
    if (b.for !== undefined && b.for.trim() !== '') {
      let seconds: number;
      try {
        seconds = durationSeconds(/^\d+(\.\d+)?$/.test(b.for.trim()) ? Number(b.for) : b.for);
      } catch {
        throw badRequest(`for: "${b.for}" is not a duration such as 30m, 2h or 7d`);
      }
      if (!(seconds > 0 && seconds <= MAX_PIN_SECONDS)) throw badRequest(`for: must be more than 0 and at most 366d (got "${b.for}")`);
      until = Math.floor(now / 1000 + seconds);
    }
    const pin: Omit<FleetPinRecord, 'id'> = {
      profile: b.profile,
      until,
      by: req.actor,
      reason: b.reason ?? '',
      selector,
      ownerKind: 'operator',
      ownerId: null,
      createdMs: now,
    };
    const others = fleet.pins.filter((p) => !(p.ownerKind === 'operator' && p.selector === selector));
    const plan = planChange(fleet.agents, fleet, { configs: fleet.configs, pins: [...others, { ...pin, id: Number.MAX_SAFE_INTEGER }] }, now);
    if (b.dry_run) return reply.code(200).send(plan);
    const replaced = await store.removePins(selector, 'operator', null);
    const stored = await store.addPin(pin);
    await store.appendJournal({ timeMs: now, actor: req.actor, action: 'profile.set', target: selector, details: { profile: b.profile, until: until === null ? null : new Date(until * 1000).toISOString(), reason: b.reason ?? '', replaced, agents: plan.reached } });
    await store.notify(AGENTS_CHANGED);
    ctx.log.info({ profile: b.profile, selector, until, agents: plan.reached, actor: req.actor }, `fleet pin ${b.profile} on "${selector}" (${req.actor}); it changes ${plan.reached} agent(s)`);
    return reply.code(201).send({ pin: pinView(stored), replaced, reached: plan.reached });
  });

  app.delete<{ Querystring: { selector: string; dry_run?: boolean } }>('/pins', {
    config: { access: 'admin' },
    schema: {
      summary: 'Remove the operator pin with this selector (fleet profile unset)',
      tags: ['pins'],
      querystring: { type: 'object', required: ['selector'], properties: { selector: { type: 'string', maxLength: 4096 }, dry_run: { type: 'boolean', default: false } } },
      response: { 200: object({ removed: int, reached: int, agents: arrayOf(object({})) }), ...errors(...WRITE_ERRORS, 404) },
    },
  }, async (req) => {
    const selector = requireSelector(req.query.selector);
    const now = ctx.now();
    const fleet = await loadFleet(store);
    const mine = fleet.pins.filter((p) => p.ownerKind === 'operator' && p.selector === selector);
    if (mine.length === 0) {
      const operators = fleet.pins.filter((p) => p.ownerKind === 'operator').map((p) => `"${p.selector}"`);
      throw notFound(`no fleet pin with selector "${selector}" (${operators.length > 0 ? `pins: ${operators.join(', ')}` : 'no operator pins'})`);
    }
    const plan = planChange(fleet.agents, fleet, { configs: fleet.configs, pins: fleet.pins.filter((p) => !mine.includes(p)) }, now);
    if (req.query.dry_run) return { ...plan, removed: 0 };
    const removed = await store.removePins(selector, 'operator', null);
    await store.appendJournal({ timeMs: now, actor: req.actor, action: 'profile.unset', target: selector, details: { removed, profiles: mine.map((p) => p.profile), agents: plan.reached } });
    await store.notify(AGENTS_CHANGED);
    ctx.log.info({ selector, agents: plan.reached, actor: req.actor }, `fleet pin on "${selector}" removed (${req.actor}); it changes ${plan.reached} agent(s)`);
    return { removed, reached: plan.reached, agents: plan.agents };
  });

  app.get<{ Querystring: { since?: string; limit?: number } }>('/journal', {
    schema: {
      summary: 'Who changed what on the hub, newest last',
      tags: ['journal'],
      querystring: {
        type: 'object',
        properties: {
          since: { type: 'string', description: 'Unix milliseconds or ISO 8601' },
          limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
        },
      },
      response: { 200: arrayOf(journalSchema), ...errors(...READ_ERRORS) },
    },
  }, async (req) => {
    const sinceMs = parseTime(req.query.since, 'since');
    return (await store.listJournal({ ...(sinceMs === undefined ? {} : { sinceMs }), limit: req.query.limit ?? 100 })).map(journalView);
  });
}
