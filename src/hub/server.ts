/**
 * The hub's HTTP server (fastify): the API under /api/v1 with its OpenAPI document, /healthz,
 * /metrics, OpAMP (src/hub/opamp) and the OTLP receiver (src/hub/otlp). TLS when configured. Errors are
 * answered as `{"error": "..."}`, the message naming what was wrong.
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { UserError } from '../command/errors.js';
import { describeFileError } from '../file-errors.js';
import { VERSION } from '../version.js';
import { API_PREFIX, registerApi } from './api/index.js';
import { HttpError } from './api/errors.js';
import type { HubContext } from './context.js';
import { HubMetrics, PROMETHEUS_TEXT } from './metrics.js';
import { opampMetricsText, registerOpamp } from './opamp/index.js';
import { registerOtlp } from './otlp/ingest.js';
import { TokenChecker } from './tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub's /metrics: parts of the hub add their own families with addCollector. */
    hubMetrics: HubMetrics;
  }
}

/** API request bodies are small JSON documents; a configuration is at most 256 KiB of it. */
const API_BODY_LIMIT = 1024 * 1024;

function readTls(ctx: HubContext): { cert: Buffer; key: Buffer } | null {
  const tls = ctx.settings.tls;
  if (!tls) return null;
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UserError(`TLS ${what} ${path}: ${describeFileError(err)}`);
    }
  };
  return { cert: read(tls.cert, 'certificate'), key: read(tls.key, 'key') };
}

export async function createHubServer(ctx: HubContext): Promise<FastifyInstance> {
  const tls = readTls(ctx);
  let app: FastifyInstance;
  try {
    app = Fastify({
      // fastify's own lines (its listening line, per-request lines) at warn and above only: the hub
      // says where it listens itself, and a line per heartbeat would drown the log.
      loggerInstance: ctx.log.child({}, { level: 'warn' }),
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: Math.max(API_BODY_LIMIT, ctx.settings.maxBodyBytes),
      forceCloseConnections: true,
      return503OnClosing: true,
      // Unknown fields in a body are refused by name, not dropped without a word.
      ajv: { customOptions: { removeAdditional: false } },
      ...(tls ? { https: tls } : {}),
    }) as unknown as FastifyInstance;
  } catch (err) {
    // A key that does not match its certificate, or a file that is not PEM.
    throw new UserError(`TLS: ${(err as Error).message} (NRDOT_HUB_TLS_CERT ${ctx.settings.tls?.cert}, NRDOT_HUB_TLS_KEY ${ctx.settings.tls?.key})`);
  }

  const metrics = new HubMetrics(ctx.store, ctx.now);
  app.decorate('hubMetrics', metrics);
  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(req.method, req.routeOptions.url ?? '(no route)', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err.validation) return reply.code(400).send({ error: err.message });
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    ctx.log.error({ err, method: req.method, url: req.url }, `${req.method} ${req.routeOptions.url ?? req.url}: ${err.message}`);
    return reply.code(err.statusCode ?? 500).send({ error: `the hub failed to answer: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no endpoint ${req.method} ${req.url.split('?')[0]}; the API is described at ${API_PREFIX}/openapi.json` });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'NRDOT-Plus hub API',
        version: VERSION,
        description: 'The fleet: agents, configurations, pins, journal, KPIs. Changes need the admin token; reads need the read token beyond loopback.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/healthz', {
    config: { access: 'public' },
    schema: {
      summary: 'Whether the hub and its database answer',
      tags: ['hub'],
      response: {
        200: { type: 'object', properties: { status: { type: 'string' } } },
        503: { type: 'object', properties: { status: { type: 'string' }, error: { type: 'string' } } },
      },
    },
  }, async (_req, reply) => {
    try {
      await ctx.store.tokenHashes();
      return reply.code(200).send({ status: 'ok' });
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: `database: ${(err as Error).message}` });
    }
  });

  app.get('/metrics', { schema: { summary: 'The hub\'s own metrics, Prometheus text format', tags: ['hub'], produces: ['text/plain'] } }, async (_req, reply) => {
    return reply.type(PROMETHEUS_TEXT).send(await metrics.render());
  });

  await registerApi(app, ctx, new TokenChecker(ctx.store, ctx.settings.adminToken, ctx.now));

  // ---- OpAMP (/v1/opamp) and OTLP ingest (/v1/metrics): src/hub/opamp, src/hub/otlp ----
  // One set of counters for both, rendered on /metrics beside the hub's own families.
  const opamp = await registerOpamp(app, ctx);
  await registerOtlp(app, ctx, { metrics: opamp.metrics });
  metrics.addCollector(() => opampMetricsText(opamp.metrics));
  // ---- end OpAMP / OTLP ----

  return app;
}
