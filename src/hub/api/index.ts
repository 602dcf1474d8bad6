/**
 * The hub's HTTP API under /api/v1 (routes documented in README.md beside this file): every route
 * declares its schemas, from which @fastify/swagger builds /api/v1/openapi.json; auth.ts decides
 * who may call what.
 */
import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../context.js';
import type { TokenChecker } from '../tokens.js';
import { agentRoutes } from './agents.js';
import { authHook } from './auth.js';
import { configRoutes } from './configs.js';
import { pinRoutes } from './pins.js';
import { statusRoutes } from './status.js';

export const API_PREFIX = '/api/v1';

export async function registerApi(app: FastifyInstance, ctx: HubContext, tokens: TokenChecker): Promise<void> {
  await app.register(
    async (api) => {
      api.decorateRequest('actor', '');
      api.addHook('onRequest', authHook(tokens));
      statusRoutes(api, ctx);
      agentRoutes(api, ctx);
      configRoutes(api, ctx);
      pinRoutes(api, ctx);
      api.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: API_PREFIX },
  );
}
