// registerOpamp: the hub's OpAMP server (transport + fleet logic) on /v1/opamp.
// src/hub/server.ts calls it once the store is open and migrated.
import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../context.js';
import { FleetEngine, type EngineOptions } from '../fleet/engine.js';
import { createOpampMetrics, type OpampMetrics } from './metrics.js';
import { registerTransport, type TransportOptions, type TransportState } from './transport.js';

export type { OpampMetrics } from './metrics.js';
export { opampMetricsText } from './prometheus.js';
export type { OpampConnection, OpampHandlers } from './connection.js';
export { NOTIFY_ALL_AGENTS, NOTIFY_AGENT_PREFIX, type EngineHooks } from '../fleet/engine.js';

export interface OpampOptions extends EngineOptions, TransportOptions {
  /** Start answering agents at once (default true); false: UNAVAILABLE until setReady(true). */
  ready?: boolean;
  /** Counters to fill (shared with the OTLP receiver); a new set when absent. */
  metrics?: OpampMetrics;
}

export interface OpampServer {
  readonly engine: FleetEngine;
  readonly metrics: OpampMetrics;
  /** While false, agents get UNAVAILABLE with retry_info (HTTP 503 + Retry-After). */
  setReady(ready: boolean, reason?: string): void;
  /** Stops the sweep and writes pending heartbeats (also done by app.close()). */
  close(): Promise<void>;
}

export async function registerOpamp(app: FastifyInstance, ctx: HubContext, opts: OpampOptions = {}): Promise<OpampServer> {
  const metrics = opts.metrics ?? createOpampMetrics();
  const engine = new FleetEngine(ctx, metrics, opts);
  const state: TransportState = { ready: opts.ready ?? true, notReadyReason: 'the hub is starting' };
  await registerTransport(app, ctx, engine, metrics, state, opts);
  await engine.start();
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => (closed ??= engine.stop());
  app.addHook('onClose', async () => close());
  return {
    engine,
    metrics,
    setReady(ready: boolean, reason = 'the hub is starting') {
      state.ready = ready;
      state.notReadyReason = reason;
    },
    close,
  };
}
