// ConnectionSettingsOffers: the heartbeat the hub wants from an agent, and where its own
// metrics go (the hub's OTLP receiver). Sent with a full state report, or when they change;
// the hash (stored as offeredSettingsHash) tells which.
import { createHash } from 'node:crypto';
import {
  AgentCapabilities,
  ConnectionSettingsOffersSchema,
  OpAMPConnectionSettingsSchema,
  TelemetryConnectionSettingsSchema,
  HeaderSchema,
  HeadersSchema,
  create,
  type ConnectionSettingsOffers,
} from '../../fleet/codec.js';

export interface Offer {
  offers: ConnectionSettingsOffers;
  /** Hex sha256 of what was offered. */
  hash: string;
}

/** `agentSecret`: the receiver wants it too, so the own-metrics offer carries it as a header
 * (an agent that authenticated for OpAMP already has it; others learn nothing new). */
export function connectionOffers(heartbeatSeconds: number, metricsEndpoint: string, capabilities: number, agentSecret: string | null): Offer {
  const ownMetrics = (capabilities & AgentCapabilities.AgentCapabilities_ReportsOwnMetrics) !== 0;
  const hash = createHash('sha256')
    .update(JSON.stringify({ heartbeatSeconds, ownMetrics: ownMetrics ? metricsEndpoint : null }))
    .digest();
  const offers = create(ConnectionSettingsOffersSchema, {
    hash: new Uint8Array(hash),
    // No destination_endpoint: the agent keeps the address it reached us at (a balancer's, say).
    opamp: create(OpAMPConnectionSettingsSchema, { heartbeatIntervalSeconds: BigInt(heartbeatSeconds) }),
  });
  if (ownMetrics) {
    offers.ownMetrics = create(TelemetryConnectionSettingsSchema, { destinationEndpoint: metricsEndpoint });
    if (agentSecret !== null) {
      offers.ownMetrics.headers = create(HeadersSchema, { headers: [create(HeaderSchema, { key: 'Authorization', value: `Bearer ${agentSecret}` })] });
    }
  }
  return { offers, hash: hash.toString('hex') };
}
