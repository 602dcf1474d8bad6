/**
 * Who may call the API: mutations need the admin token; reads need the read (or admin) token,
 * except from loopback (an operator on the hub's own machine). A request through a proxy
 * (Forwarded / X-Forwarded-For) or naming a Host other than loopback (a browser led here by DNS
 * rebinding) is not "from loopback". Wrong token: 401; read token on a mutation: 403.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopback } from '../../config/listen.js';
import type { TokenChecker } from '../tokens.js';

/** public: anyone (the OpenAPI document); read: the read token beyond loopback; admin: the admin token. */
export type Access = 'public' | 'read' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (default: read). */
    access?: Access;
  }
  interface FastifyRequest {
    /** The journal's actor of this request: "token:admin", "token:read", "loopback". */
    actor: string;
  }
}

function loopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isLoopback(a);
}

function loopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(host);
  return m !== null && isLoopback((m[1] ?? m[2])!);
}

export function fromLoopback(req: FastifyRequest): boolean {
  const h = req.headers;
  return loopbackAddress(req.socket.remoteAddress) && loopbackHost(h.host) && h.forwarded === undefined && h['x-forwarded-for'] === undefined;
}

export const BEARER_HELP = 'send `Authorization: Bearer <token>` (nrdot-plus-ctl reads it from NRDOT_HUB_TOKEN; the hub printed its admin and read tokens at its first start)';

/** The onRequest hook of the API's routes. */
export function authHook(tokens: TokenChecker) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const access: Access = req.routeOptions.config.access ?? 'read';
    if (access === 'public') return;
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (header !== undefined && m === null) {
      return void reply.code(401).send({ error: `Authorization header is not "Bearer <token>"; ${BEARER_HELP}` });
    }
    if (m === null) {
      if (access === 'read' && fromLoopback(req)) {
        req.actor = 'loopback';
        return;
      }
      return void reply.code(401).send({ error: `${access === 'admin' ? 'this change needs the admin token' : 'a token is needed beyond loopback'}; ${BEARER_HELP}` });
    }
    const who = await tokens.identify(m[1]!);
    if (who === null) return void reply.code(401).send({ error: `the token is not one of this hub's; ${BEARER_HELP}` });
    if (access === 'admin' && who.kind !== 'admin') return void reply.code(403).send({ error: 'the read token cannot change anything; use the admin token (NRDOT_HUB_TOKEN)' });
    req.actor = who.actor;
  };
}
