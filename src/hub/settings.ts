// What the hub runs with, once flags, NRDOT_HUB_* variables, hub.yaml and defaults are merged
// (src/hub/config.ts loads it). Every part of the hub reads these, never the environment.
import type { RetentionSettings } from './store/types.js';

export interface HubSettings {
  /** host:port; default 127.0.0.1:4320. */
  listen: string;
  dataDir: string;
  /** `postgres://...`, or null for the embedded SQLite database at `${dataDir}/hub.db`. */
  database: string | null;
  tls: { cert: string; key: string } | null;
  /** Beyond loopback without TLS: a load balancer terminates TLS in front of the hub. */
  insecurePlaintext: boolean;
  /** The address agents are told to send own metrics to (its /v1/metrics), or null: derived from the request. */
  publicUrl: string | null;
  /** Offered to agents (default 30). */
  heartbeatSeconds: number;
  /** Offered to agents in a running rollout phase (5) and to one someone is looking at (2). */
  phaseHeartbeatSeconds: number;
  watchHeartbeatSeconds: number;
  retention: RetentionSettings;
  /** Agents must present this as `Authorization: Bearer ...` (required beyond loopback). */
  agentSecret: string | null;
  /** NRDOT_HUB_TOKEN: an admin token given by the operator instead of the stored ones. */
  adminToken: string | null;
  /** Fleet configurations may set exporter endpoints and headers. */
  allowExporters: boolean;
  /** Largest OpAMP or OTLP request body accepted, decompressed (bytes). */
  maxBodyBytes: number;
}
