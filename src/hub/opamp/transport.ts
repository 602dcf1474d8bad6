// OpAMP's two transports on one path (/v1/opamp), as opamp-go's server dispatches them:
// POST with Content-Type application/x-protobuf is plain HTTP; a GET with Upgrade: websocket is
// the WebSocket transport. Authentication, size limits, gzip, throttling and malformed input are
// handled here; every well-formed AgentToServer goes to the handlers (the fleet logic).
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import {
  OPAMP_CONTENT_TYPE,
  OPAMP_PATH,
  RetryInfoSchema,
  ServerErrorResponseSchema,
  ServerErrorResponseType,
  ServerToAgentSchema,
  create,
  decodeAgentToServer,
  encodeServerToAgent,
  frameWebSocket,
  uidFromString,
  unframeWebSocket,
  type AgentToServer,
  type ServerToAgent,
} from '../../fleet/codec.js';
import type { HubContext } from '../context.js';
import { bearerMatches, gunzipBounded, PayloadTooLargeError } from './body.js';
import { BadRequestError, type OpampConnection, type OpampHandlers } from './connection.js';
import { observeLatency, type OpampMetrics, type Outcome, type Transport } from './metrics.js';

const gzipAsync = promisify(gzip);

/** Retry-After / retry_info while the hub starts, when it is overloaded, when storage fails. */
export const RETRY_STARTING_SECONDS = 5;
export const RETRY_OVERLOAD_SECONDS = 15;
export const RETRY_FAILURE_SECONDS = 30;

export interface TransportOptions {
  /** Messages processed at once (both transports) before the hub answers UNAVAILABLE; default 512. */
  maxInFlight?: number;
}

export interface TransportState {
  ready: boolean;
  /** Why it is not ready (sent to agents). */
  notReadyReason: string;
}

export function errorReply(instanceUid: Uint8Array, type: ServerErrorResponseType, message: string, retrySeconds?: number): ServerToAgent {
  const errorResponse = create(ServerErrorResponseSchema, { type, errorMessage: message });
  if (retrySeconds !== undefined) {
    errorResponse.Details = { case: 'retryInfo', value: create(RetryInfoSchema, { retryAfterNanoseconds: BigInt(retrySeconds) * 1_000_000_000n }) };
  }
  return create(ServerToAgentSchema, { instanceUid, errorResponse });
}

function headerUid(req: FastifyRequest): Uint8Array {
  const h = req.headers['opamp-instance-uid'];
  try {
    return typeof h === 'string' && h.length > 0 ? uidFromString(h) : new Uint8Array();
  } catch {
    return new Uint8Array();
  }
}

function originOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export async function registerTransport(
  app: FastifyInstance,
  ctx: HubContext,
  handlers: OpampHandlers,
  metrics: OpampMetrics,
  state: TransportState,
  opts: TransportOptions = {},
): Promise<void> {
  const { settings, log } = ctx;
  const maxInFlight = opts.maxInFlight ?? 512;
  const maxBody = settings.maxBodyBytes;
  let nextId = 1;

  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, { options: { maxPayload: maxBody } });
  }

  const count = (t: Transport, o: Outcome): void => {
    metrics.requests[t][o]++;
  };

  /** Refusals that need no body: wrong secret, starting, overloaded. */
  const gate = (req: FastifyRequest, reply: FastifyReply, transport: Transport): boolean => {
    if (settings.agentSecret !== null && !bearerMatches(req.headers.authorization, settings.agentSecret)) {
      count(transport, 'unauthorized');
      void reply.code(401).type('text/plain').header('www-authenticate', 'Bearer').send('OpAMP: missing or wrong enrollment secret (Authorization: Bearer ...)\n');
      return false;
    }
    const unavailable = !state.ready ? { why: state.notReadyReason, retry: RETRY_STARTING_SECONDS } : metrics.inFlight >= maxInFlight ? { why: 'the hub is overloaded', retry: RETRY_OVERLOAD_SECONDS } : null;
    if (unavailable) {
      count(transport, 'unavailable');
      const body = encodeServerToAgent(errorReply(headerUid(req), ServerErrorResponseType.ServerErrorResponseType_Unavailable, unavailable.why, unavailable.retry));
      void reply.code(503).header('retry-after', String(unavailable.retry)).type(OPAMP_CONTENT_TYPE).send(Buffer.from(body));
      return false;
    }
    return true;
  };

  /** Runs one message through the handlers; errors become BAD_REQUEST or UNAVAILABLE replies. */
  const handle = async (conn: OpampConnection, msg: AgentToServer): Promise<{ reply: ServerToAgent; outcome: Outcome }> => {
    metrics.inFlight++;
    try {
      return { reply: await handlers.onMessage(conn, msg), outcome: 'ok' };
    } catch (err) {
      if (err instanceof BadRequestError) {
        return { reply: errorReply(msg.instanceUid, ServerErrorResponseType.ServerErrorResponseType_BadRequest, err.message), outcome: 'bad_request' };
      }
      log.error({ err, remote: conn.remoteAddress }, 'OpAMP message failed; answered UNAVAILABLE');
      return {
        reply: errorReply(msg.instanceUid, ServerErrorResponseType.ServerErrorResponseType_Unavailable, 'the hub could not process the message (storage unavailable?)', RETRY_FAILURE_SECONDS),
        outcome: 'unavailable',
      };
    } finally {
      metrics.inFlight--;
    }
  };

  await app.register(async (scope) => {
    // Raw bodies here only: the API's JSON parsing elsewhere is not affected (encapsulation).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBody }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      if (err.statusCode === 413) {
        count('http', 'too_large');
        return reply.code(413).type('text/plain').send(`OpAMP: request body larger than ${maxBody} bytes\n`);
      }
      count('http', 'bad_request');
      log.warn({ err: err.message, remote: req.ip }, 'OpAMP request refused');
      return reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 400).type('text/plain').send(`OpAMP: ${err.message}\n`);
    });

    scope.addHook('onRequest', async (req, reply) => {
      const transport: Transport = req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket' ? 'ws' : 'http';
      if (req.method === 'POST' && req.headers['content-type'] !== OPAMP_CONTENT_TYPE) {
        count('http', 'unsupported');
        return reply
          .code(415)
          .type('text/plain')
          .send(`OpAMP over plain HTTP needs Content-Type: ${OPAMP_CONTENT_TYPE} (got ${req.headers['content-type'] ?? 'none'}); WebSocket clients send a GET with Upgrade: websocket\n`);
      }
      const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (req.method === 'POST' && enc !== 'gzip' && enc !== 'identity') {
        count('http', 'unsupported');
        return reply.code(415).type('text/plain').send(`OpAMP: Content-Encoding ${enc} is not supported (gzip or none)\n`);
      }
      if (req.method === 'POST' || transport === 'ws') {
        if (!gate(req, reply, transport)) return reply;
      }
      return undefined;
    });

    scope.post(OPAMP_PATH, async (req, reply) => {
      const started = process.hrtime.bigint();
      let outcome: Outcome = 'ok';
      try {
        let body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
          try {
            body = await gunzipBounded(body, maxBody);
          } catch (err) {
            if (err instanceof PayloadTooLargeError) throw err;
            outcome = 'bad_request';
            const msg = `gzip body does not decompress: ${(err as Error).message}`;
            return await reply.code(400).type(OPAMP_CONTENT_TYPE).send(Buffer.from(encodeServerToAgent(errorReply(headerUid(req), ServerErrorResponseType.ServerErrorResponseType_BadRequest, msg))));
          }
        }
        let msg: AgentToServer;
        try {
          msg = decodeAgentToServer(body);
        } catch (err) {
          outcome = 'bad_request';
          log.warn({ remote: req.ip, err: (err as Error).message }, 'malformed AgentToServer');
          const text = `malformed AgentToServer: ${(err as Error).message}`;
          return await reply.code(400).type(OPAMP_CONTENT_TYPE).send(Buffer.from(encodeServerToAgent(errorReply(headerUid(req), ServerErrorResponseType.ServerErrorResponseType_BadRequest, text))));
        }
        const conn: OpampConnection = {
          id: nextId++,
          transport: 'http',
          origin: originOf(req),
          remoteAddress: req.ip,
          send: () => false,
          close: () => undefined,
        };
        const result = await handle(conn, msg);
        outcome = result.outcome;
        const status = outcome === 'ok' ? 200 : outcome === 'bad_request' ? 400 : 503;
        if (status === 503) void reply.header('retry-after', String(RETRY_FAILURE_SECONDS));
        let out = Buffer.from(encodeServerToAgent(result.reply));
        // Compressed when the agent says it can take it and it is worth it (a config map).
        if (out.length > 1024 && /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '')) {
          out = await gzipAsync(out);
          void reply.header('content-encoding', 'gzip');
        }
        return await reply.code(status).type(OPAMP_CONTENT_TYPE).send(out);
      } catch (err) {
        if (err instanceof PayloadTooLargeError) {
          outcome = 'too_large';
          return reply.code(413).type('text/plain').send(`OpAMP: request body larger than ${maxBody} bytes once decompressed\n`);
        }
        throw err;
      } finally {
        count('http', outcome);
        observeLatency(metrics.latency, Number(process.hrtime.bigint() - started) / 1e9);
      }
    });

    scope.route({
      method: 'GET',
      url: OPAMP_PATH,
      handler: async (_req, reply) =>
        reply.code(405).header('allow', 'POST').type('text/plain').send(`OpAMP: POST an AgentToServer with Content-Type: ${OPAMP_CONTENT_TYPE}, or open a WebSocket\n`),
      wsHandler: (socket: WebSocket, req: FastifyRequest) => {
        metrics.wsConnections++;
        let queue: Promise<void> = Promise.resolve();
        let open = true;
        const conn: OpampConnection = {
          id: nextId++,
          transport: 'ws',
          origin: originOf(req),
          remoteAddress: req.ip,
          send: (msg) => {
            if (!open || socket.readyState !== socket.OPEN) return false;
            socket.send(frameWebSocket(encodeServerToAgent(msg)));
            return true;
          },
          close: () => socket.close(1000),
        };
        socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
          const started = process.hrtime.bigint();
          const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
          // One message at a time per connection: sequence numbers are processed in order.
          queue = queue.then(async () => {
            let outcome: Outcome = 'ok';
            let reply: ServerToAgent;
            if (!state.ready || metrics.inFlight >= maxInFlight) {
              outcome = 'unavailable';
              const why = !state.ready ? state.notReadyReason : 'the hub is overloaded';
              reply = errorReply(new Uint8Array(), ServerErrorResponseType.ServerErrorResponseType_Unavailable, why, !state.ready ? RETRY_STARTING_SECONDS : RETRY_OVERLOAD_SECONDS);
            } else {
              let msg: AgentToServer | null = null;
              try {
                if (!isBinary) throw new Error('OpAMP WebSocket messages are binary');
                msg = decodeAgentToServer(unframeWebSocket(bytes));
              } catch (err) {
                outcome = 'bad_request';
                log.warn({ remote: req.ip, err: (err as Error).message }, 'malformed AgentToServer on a WebSocket');
                reply = errorReply(new Uint8Array(), ServerErrorResponseType.ServerErrorResponseType_BadRequest, `malformed AgentToServer: ${(err as Error).message}`);
              }
              if (msg) ({ reply, outcome } = await handle(conn, msg));
            }
            conn.send(reply!);
            count('ws', outcome);
            observeLatency(metrics.latency, Number(process.hrtime.bigint() - started) / 1e9);
          });
        });
        socket.on('error', (err) => log.debug({ err: err.message, remote: req.ip }, 'OpAMP WebSocket error'));
        socket.on('close', () => {
          open = false;
          metrics.wsConnections--;
          void queue.then(() => handlers.onConnectionClose(conn));
        });
      },
    });
  });
}
