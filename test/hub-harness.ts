// A real hub for tests: fastify on 127.0.0.1:0 with the OpAMP server and the OTLP receiver over
// the real SQLite store in a temporary directory, and hand-built OpAMP messages to send it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import {
  AgentDescriptionSchema,
  AgentToServerSchema,
  OPAMP_CONTENT_TYPE,
  create,
  decodeServerToAgent,
  encodeAgentToServer,
  recordToAttributes,
  type AgentToServer,
  type AttributeValue,
  type ServerToAgent,
} from '../src/fleet/codec.js';
import type { HubContext } from '../src/hub/context.js';
import { registerOpamp, type OpampOptions, type OpampServer } from '../src/hub/opamp/index.js';
import { registerOtlp } from '../src/hub/otlp/ingest.js';
import type { HubSettings } from '../src/hub/settings.js';
import { openHubStore } from '../src/hub/store/index.js';
import type { HubStore } from '../src/hub/store/types.js';
import { defaultHubSettings } from '../src/hub/config.js';

export interface TestHub {
  url: string;
  app: FastifyInstance;
  store: HubStore;
  opamp: OpampServer;
  ctx: HubContext;
  close(): Promise<void>;
}

export function testSettings(dataDir: string, over: Partial<HubSettings> = {}): HubSettings {
  // The hub's defaults, on a free port, with a 1 MiB body bound that the size tests reach quickly.
  return { ...defaultHubSettings(), listen: '127.0.0.1:0', dataDir, maxBodyBytes: 1024 * 1024, ...over };
}

let replicas = 0;

/** A hub on 127.0.0.1:0; `over.database` (a postgres:// URL) for PostgreSQL, else SQLite. */
export async function startHub(over: Partial<HubSettings> = {}, opts: OpampOptions = {}): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-hub-opamp-'));
  const log = pino({ level: process.env.HUB_TEST_LOG ?? 'silent' });
  const settings = testSettings(dir, over);
  const store = await openHubStore({ database: settings.database, dataDir: dir }, log);
  const ctx: HubContext = { settings, store, log, replicaId: `test:${process.pid}:${++replicas}`, now: () => Date.now() };
  const app = Fastify({ logger: false });
  const opamp = await registerOpamp(app, ctx, { sweepMs: 100, seenFlushMs: 50, ...opts });
  await registerOtlp(app, ctx, { metrics: opamp.metrics });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    store,
    opamp,
    ctx,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AgentSpec {
  uid: Uint8Array;
  seq: number;
  capabilities?: number;
  identifying?: Record<string, AttributeValue>;
  nonIdentifying?: Record<string, AttributeValue>;
}

/** An AgentToServer; with identifying/nonIdentifying it carries a description (a full report). */
export function message(spec: AgentSpec, extra: Partial<AgentToServer> = {}): AgentToServer {
  const msg = create(AgentToServerSchema, { instanceUid: spec.uid, sequenceNum: BigInt(spec.seq), capabilities: BigInt(spec.capabilities ?? 1) });
  if (spec.identifying || spec.nonIdentifying) {
    msg.agentDescription = create(AgentDescriptionSchema, {
      identifyingAttributes: recordToAttributes(spec.identifying ?? {}),
      nonIdentifyingAttributes: recordToAttributes(spec.nonIdentifying ?? {}),
    });
  }
  return Object.assign(msg, extra);
}

export interface PostResult {
  status: number;
  headers: Headers;
  contentType: string | null;
  reply: ServerToAgent | null;
  text: string;
}

export async function post(
  hub: { url: string },
  body: AgentToServer | Uint8Array,
  opts: { gzip?: boolean; headers?: Record<string, string>; contentType?: string | null } = {},
): Promise<PostResult> {
  let bytes = body instanceof Uint8Array ? body : encodeAgentToServer(body);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? OPAMP_CONTENT_TYPE;
  if (opts.gzip) {
    bytes = gzipSync(bytes);
    headers['content-encoding'] = 'gzip';
  }
  const res = await fetch(`${hub.url}/v1/opamp`, { method: 'POST', headers, body: bytes });
  const raw = new Uint8Array(await res.arrayBuffer());
  const contentType = res.headers.get('content-type');
  let reply: ServerToAgent | null = null;
  if (contentType === OPAMP_CONTENT_TYPE) reply = decodeServerToAgent(raw);
  return { status: res.status, headers: res.headers, contentType, reply, text: contentType === OPAMP_CONTENT_TYPE ? '' : Buffer.from(raw).toString('utf8') };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
