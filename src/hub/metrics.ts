/**
 * The hub's own Prometheus exposition (/metrics): agents by status, HTTP requests and their latency
 * by route, requests waiting for agents, the hub process's CPU and memory, and whatever the other
 * parts of the hub add (the OpAMP transport's counters) through addCollector.
 */
import type { HubStore } from './store/types.js';
import { escapeLabelValue } from '../export/prometheus.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** Latency buckets (seconds): OpAMP polls answer in milliseconds, API listings in tens of them. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** A scrape reads the registry at most this often (a fleet of 10,000 agents is a large read). */
const AGENTS_CACHE_MS = 5000;


interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export type Collector = () => string | Promise<string>;

export class HubMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly collectors: Collector[] = [];
  private agents: { atMs: number; byStatus: Record<string, number> } | null = null;

  constructor(
    private readonly store: HubStore,
    private readonly now: () => number,
  ) {}

  /** One answered HTTP request; `route` is the route's pattern (/api/v1/agents/:id), not the URL. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `${method}\u0000${route}`;
    let h = this.latency.get(hkey);
    if (!h) this.latency.set(hkey, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Adds lines (complete HELP/TYPE families) from another part of the hub. */
  addCollector(collector: Collector): void {
    this.collectors.push(collector);
  }

  private async agentsByStatus(): Promise<Record<string, number>> {
    const now = this.now();
    if (this.agents && now - this.agents.atMs < AGENTS_CACHE_MS) return this.agents.byStatus;
    const byStatus: Record<string, number> = { online: 0, offline: 0 };
    for (const a of await this.store.listAgents()) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    this.agents = { atMs: now, byStatus };
    return byStatus;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    const byStatus = await this.agentsByStatus();
    out.push('# HELP nrdot_hub_agents Agents in the registry by status.', '# TYPE nrdot_hub_agents gauge');
    for (const [status, n] of Object.entries(byStatus)) out.push(`nrdot_hub_agents{status="${escapeLabelValue(status)}"} ${n}`);
    out.push('# HELP nrdot_hub_agent_requests_pending Requests to agents (top, explain, journal) not yet answered.', '# TYPE nrdot_hub_agent_requests_pending gauge');
    out.push(`nrdot_hub_agent_requests_pending ${await this.store.pendingRequestCount()}`);
    out.push('# HELP nrdot_hub_http_requests_total HTTP requests answered, by method, route and status.', '# TYPE nrdot_hub_http_requests_total counter');
    for (const [key, n] of this.requests) {
      const [method, route, status] = key.split('\u0000') as [string, string, string];
      out.push(`nrdot_hub_http_requests_total{method="${method}",route="${escapeLabelValue(route)}",status="${status}"} ${n}`);
    }
    out.push('# HELP nrdot_hub_http_request_duration_seconds Time to answer HTTP requests, by method and route.', '# TYPE nrdot_hub_http_request_duration_seconds histogram');
    for (const [key, h] of this.latency) {
      const [method, route] = key.split('\u0000') as [string, string];
      const labels = `method="${method}",route="${escapeLabelValue(route)}"`;
      BUCKETS.forEach((b, i) => out.push(`nrdot_hub_http_request_duration_seconds_bucket{${labels},le="${b}"} ${h.counts[i]}`));
      out.push(`nrdot_hub_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(`nrdot_hub_http_request_duration_seconds_sum{${labels}} ${Number(h.sum.toPrecision(12))}`);
      out.push(`nrdot_hub_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    const cpu = process.cpuUsage();
    out.push('# HELP nrdot_hub_cpu_seconds_total CPU time of the hub process (user and system).', '# TYPE nrdot_hub_cpu_seconds_total counter');
    out.push(`nrdot_hub_cpu_seconds_total ${Number(((cpu.user + cpu.system) / 1e6).toFixed(6))}`);
    out.push('# HELP nrdot_hub_memory_rss_bytes Resident memory of the hub process.', '# TYPE nrdot_hub_memory_rss_bytes gauge');
    out.push(`nrdot_hub_memory_rss_bytes ${process.memoryUsage.rss()}`);
    for (const c of this.collectors) {
      const text = (await c()).trimEnd();
      if (text !== '') out.push(text);
    }
    return out.join('\n') + '\n';
  }
}
