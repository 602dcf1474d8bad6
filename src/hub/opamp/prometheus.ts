// OpampMetrics in Prometheus' text format, for the hub's /metrics (src/hub/server.ts appends it).
import { LATENCY_BUCKETS, OUTCOMES, type OpampMetrics } from './metrics.js';

function line(out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

export function opampMetricsText(m: OpampMetrics): string {
  const out: string[] = [];
  line(out, 'nrdot_hub_opamp_requests_total', 'counter', 'OpAMP messages handled, by transport and outcome.');
  for (const transport of ['http', 'ws'] as const) {
    for (const outcome of OUTCOMES) out.push(`nrdot_hub_opamp_requests_total{transport="${transport}",outcome="${outcome}"} ${m.requests[transport][outcome]}`);
  }
  line(out, 'nrdot_hub_opamp_request_seconds', 'histogram', 'Time from an OpAMP message to its reply.');
  LATENCY_BUCKETS.forEach((le, i) => out.push(`nrdot_hub_opamp_request_seconds_bucket{le="${le}"} ${m.latency.buckets[i]}`));
  out.push(`nrdot_hub_opamp_request_seconds_bucket{le="+Inf"} ${m.latency.count}`);
  out.push(`nrdot_hub_opamp_request_seconds_sum ${m.latency.sum}`, `nrdot_hub_opamp_request_seconds_count ${m.latency.count}`);
  const gauges: [string, string, number][] = [
    ['nrdot_hub_opamp_websocket_connections', 'WebSocket connections open on this replica.', m.wsConnections],
    ['nrdot_hub_opamp_in_flight', 'OpAMP messages being processed.', m.inFlight],
    ['nrdot_hub_opamp_pending_heartbeats', 'Heartbeats waiting for their batched write.', m.pendingSeen],
    ['nrdot_hub_opamp_pending_messages', 'Request-channel messages taken from the store, not yet delivered.', m.pendingMessages],
  ];
  for (const [name, help, v] of gauges) {
    line(out, name, 'gauge', help);
    out.push(`${name} ${v}`);
  }
  const counters: [string, string, number][] = [
    ['nrdot_hub_opamp_remote_configs_sent_total', 'Remote configs sent to agents.', m.remoteConfigsSent],
    ['nrdot_hub_opamp_pushes_total', 'Messages pushed to WebSocket agents after a change.', m.pushes],
    ['nrdot_hub_agents_marked_offline_total', 'Agents marked offline after missing 3 heartbeats.', m.markedOffline],
    ['nrdot_hub_agent_clones_total', 'Clones given a new instance UID.', m.clones],
    ['nrdot_hub_otlp_points_accepted_total', 'OTLP data points accepted from agents.', m.otlpPointsAccepted],
    ['nrdot_hub_otlp_points_rejected_total', 'OTLP data points rejected (unknown agent).', m.otlpPointsRejected],
  ];
  for (const [name, help, v] of counters) {
    line(out, name, 'counter', help);
    out.push(`${name} ${v}`);
  }
  line(out, 'nrdot_hub_otlp_requests_total', 'counter', 'OTLP /v1/metrics requests by outcome.');
  for (const outcome of OUTCOMES) out.push(`nrdot_hub_otlp_requests_total{outcome="${outcome}"} ${m.otlpRequests[outcome]}`);
  return `${out.join('\n')}\n`;
}
