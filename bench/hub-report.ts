/**
 * The hub benchmark's figures: what one scenario measured, the targets of issue 13 beside them, and
 * the printed table.
 */
import { Histogram, REQUEST_TYPES, sumCounters, type Counters, type RequestType } from './hub-stats.js';

export interface CpuShares {
  /** Each as a share of one core over the window. */
  hub: number;
  postgres: number | null;
  workers: number;
  /** The benchmark's own process (polling the hub's API, gathering reports). */
  bench: number;
  /** The whole machine's busy time minus the above: other helpers' builds and tests. */
  rest: number;
  machine_busy: number;
  cores: number;
}

export interface Latency {
  count: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

/** What the clients saw over one phase of a scenario. */
export interface Phase {
  seconds: number;
  sent: Record<RequestType, number>;
  latency: Record<RequestType | 'opamp' | 'all', Latency>;
  /** Requests with no usable answer, by kind. */
  errors: Counters;
  unavailable: number;
  full_state_requests: number;
  /** ReportFullState on a message sent once, in sequence: nothing the agent did explains it. */
  full_state_unprovoked: number;
  /** Agents given a new instance UID (taken for clones): none of them is one. */
  new_uids: number;
}

export interface Propagation {
  selected: number;
  /** `fleet config apply` exited (s after it started) and its exit code. */
  cli_s: number;
  cli_code: number | null;
  /** Every selected agent APPLIED with the new hash, as the hub's API shows it (polled every 250 ms); null: not within the deadline. */
  hub_view_s: number | null;
  applied_in_hub_view: number;
  /** The last selected agent applied it, as the workers recorded (the lower bound of the above). */
  workers_s: number | null;
  applied_by_workers: number;
  /** Agents outside the selector that got a new config (must be 0). */
  unselected_applied: number;
  /** Seconds of polling allowed. */
  deadline_s: number;
  api_polls: number;
  api_poll_ms_mean: number;
  /** Polls the hub failed to answer, and the last such answer. */
  api_errors: number;
  api_last_error: string | null;
  /** How completion was watched: the hub's view polled throughout, or the workers' records then the hub's view. */
  view: 'hub' | 'workers';
  error: string | null;
}

export interface ScenarioResult {
  agents: number;
  db: 'sqlite' | 'postgres';
  heartbeat_s: number;
  kpi_interval_s: number;
  window_s: number;
  workers: number;
  load_average: [number, number];
  cpu: CpuShares;
  /** During the propagation phase, for comparison (a burst of remote configs and status messages). */
  cpu_propagation: CpuShares | null;
  hub_peak_rss_bytes: number;
  hub_rss_bytes_end: number;
  /** From the first agent's first message to the window: agents arriving over one heartbeat, then the warm-up. */
  arrival: Phase;
  /** The measured window (steady state). */
  window: Phase;
  /** From `fleet config apply` to every selected agent APPLIED. */
  propagation_phase: Phase | null;
  sent_total: number;
  errors_total: Counters;
  unavailable_total: number;
  in_flight_at_end: number;
  heartbeats_offered: Record<string, number>;
  propagation: Propagation | null;
  hub_problems: string[];
  /** With --pg-stats: PostgreSQL's busiest statements over the window. */
  pg_statements: Array<{ calls_per_s: number; mean_ms: number; share_of_top: number; query: string }> | null;
  targets: Array<{ what: string; figure: string; target: string; pass: boolean }>;
}

export function latencyOf(h: Histogram): Latency {
  return { count: h.count, p50_ms: h.quantile(0.5), p99_ms: h.quantile(0.99), max_ms: h.maxMs, mean_ms: h.meanMs };
}

export function mergeLatency(hists: Record<RequestType, Histogram>): Record<RequestType | 'opamp' | 'all', Latency> {
  const opamp = new Histogram();
  opamp.merge(hists.opamp_heartbeat.toJSON());
  opamp.merge(hists.opamp_status.toJSON());
  const all = Histogram.from(opamp.toJSON());
  all.merge(hists.otlp.toJSON());
  const out = Object.fromEntries(REQUEST_TYPES.map((t) => [t, latencyOf(hists[t])])) as Record<RequestType | 'opamp' | 'all', Latency>;
  out.opamp = latencyOf(opamp);
  out.all = latencyOf(all);
  return out;
}

const pct = (share: number | null): string => (share === null ? '-' : `${(share * 100).toFixed(2)}%`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const ms = (x: number): string => (Number.isNaN(x) ? '-' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(1)} ms`);
const counters = (c: Counters): string => (sumCounters(c) === 0 ? '0' : `${sumCounters(c)} (${Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ')})`);

/** Issue 13's targets for this scenario. */
export function judge(r: Omit<ScenarioResult, 'targets'>): ScenarioResult['targets'] {
  const t: ScenarioResult['targets'] = [];
  if (r.agents === 1000) {
    t.push({ what: 'hub CPU at 1,000 agents', figure: pct(r.cpu.hub), target: '< 5% of one core', pass: r.cpu.hub < 0.05 });
    t.push({ what: 'hub peak RSS at 1,000 agents', figure: mb(r.hub_peak_rss_bytes), target: '< 200 MB', pass: r.hub_peak_rss_bytes < 200e6 });
  }
  if (r.propagation && r.agents === 1000) {
    const bound = 1.1 * r.heartbeat_s + 2;
    const p = r.propagation.hub_view_s;
    t.push({ what: 'config propagation at 1,000 agents (hub view)', figure: p === null ? 'not within deadline' : `${p.toFixed(1)} s`, target: `<= ${bound.toFixed(1)} s (1.1 heartbeats + 2 s)`, pass: p !== null && p <= bound && r.propagation.unselected_applied === 0 });
  }
  if (r.agents >= 10_000 && r.db === 'postgres') {
    // After the arrival: the window and the propagation (the arrival is printed apart).
    const phases = [r.window, ...(r.propagation_phase ? [r.propagation_phase] : [])];
    const lost = phases.reduce((n, p) => n + sumCounters(p.errors) + p.unavailable, 0);
    const sent = phases.reduce((n, p) => n + p.sent.opamp_heartbeat + p.sent.opamp_status + p.sent.otlp, 0);
    t.push({ what: 'every request answered at 10,000 on PostgreSQL (window and propagation)', figure: `${lost} not answered of ${sent}`, target: '0', pass: lost === 0 });
    t.push({ what: 'p99 latency at 10,000 on PostgreSQL (all requests in the window)', figure: ms(r.window.latency.all.p99_ms), target: '< 250 ms', pass: r.window.latency.all.p99_ms < 250 });
  }
  return t;
}

export function printScenario(r: ScenarioResult): void {
  const rows: Array<[string, string]> = [];
  const row = (label: string, figure: string): number => rows.push([label, figure]);
  console.log(`\n== ${r.agents} agents on ${r.db}: heartbeat ${r.heartbeat_s} s, KPIs every ${r.kpi_interval_s} s, ${r.workers} load workers, window ${r.window_s} s, load average ${r.load_average.join(' -> ')}`);
  row('hub CPU, share of one core', pct(r.cpu.hub));
  row('hub peak RSS (VmHWM); RSS at the end', `${mb(r.hub_peak_rss_bytes)}; ${mb(r.hub_rss_bytes_end)}`);
  const c = r.cpu;
  row(`the ${c.cores} cores: hub / postgres / load workers / bench / rest of machine`, `${pct(c.hub)} / ${pct(c.postgres)} / ${pct(c.workers)} / ${pct(c.bench)} / ${pct(c.rest)} (busy ${pct(c.machine_busy)} of ${c.cores * 100}%)`);
  if (r.cpu_propagation) {
    const p = r.cpu_propagation;
    row('  during propagation: hub / postgres / load workers', `${pct(p.hub)} / ${pct(p.postgres)} / ${pct(p.workers)}`);
  }
  const lat = (label: string, l: Latency): number => row(`${label} p50 / p99 / max (n)`, `${ms(l.p50_ms)} / ${ms(l.p99_ms)} / ${ms(l.max_ms)} (${l.count})`);
  const w = r.window;
  lat('OpAMP poll, heartbeat', w.latency.opamp_heartbeat);
  lat('OpAMP poll, with status (full state, config status)', w.latency.opamp_status);
  lat('OTLP export (KPIs)', w.latency.otlp);
  lat('all requests', w.latency.all);
  const total = (p: Phase): number => p.sent.opamp_heartbeat + p.sent.opamp_status + p.sent.otlp;
  row('requests in the window: OpAMP heartbeat / status / OTLP', `${w.sent.opamp_heartbeat} / ${w.sent.opamp_status} / ${w.sent.otlp} (${(total(w) / w.seconds).toFixed(1)}/s)`);
  const problems = (p: Phase): string =>
    `${total(p)} requests, errors ${counters(p.errors)}, UNAVAILABLE ${p.unavailable}, ReportFullState ${p.full_state_requests} (${p.full_state_unprovoked} unprovoked), new UIDs ${p.new_uids}, p99 ${ms(p.latency.all.p99_ms)}`;
  row(`arrival (${r.arrival.seconds} s: first messages over one heartbeat, warm-up)`, problems(r.arrival));
  row(`window (${w.seconds} s)`, problems(w));
  if (r.propagation_phase) row(`propagation (${r.propagation_phase.seconds} s)`, problems(r.propagation_phase));
  row('whole run: requests / errors / UNAVAILABLE / in flight at the end', `${r.sent_total} / ${counters(r.errors_total)} / ${r.unavailable_total} / ${r.in_flight_at_end}`);
  row('heartbeats offered (s: agents)', Object.entries(r.heartbeats_offered).map(([s, n]) => `${s}: ${n}`).join(', '));
  const p = r.propagation;
  if (p) {
    row(`propagation to ${p.selected} agents (role=db)`, p.error ? `failed: ${p.error}` : '');
    row('  fleet config apply exited', `${p.cli_s.toFixed(2)} s (exit ${p.cli_code})`);
    row(p.view === 'hub' ? '  all APPLIED in the hub view (GET /api/v1/agents, 250 ms between polls)' : '  all APPLIED in the hub view (read once the workers had all applied)', p.hub_view_s === null ? `no: ${p.applied_in_hub_view}/${p.selected} after ${p.deadline_s} s` : `${p.hub_view_s.toFixed(2)} s`);
    row('  last agent applied it (workers)', p.workers_s === null ? `no: ${p.applied_by_workers}/${p.selected}` : `${p.workers_s.toFixed(2)} s`);
    row('  agents outside the selector given a config', String(p.unselected_applied));
    row('  API polls, mean time per poll; failed', `${p.api_polls}, ${ms(p.api_poll_ms_mean)}; ${p.api_errors}${p.api_last_error ? ` (last: ${p.api_last_error})` : ''}`);
  }
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  for (const [l, f] of rows) console.log(`  ${l.padEnd(width)}${f}`.trimEnd());
  for (const t of r.targets) console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.what}: ${t.figure} (target ${t.target})`);
  if (r.pg_statements) {
    console.log('  PostgreSQL statements by total time in the window (calls/s, mean, share of these):');
    for (const st of r.pg_statements) console.log(`    ${String(st.calls_per_s).padStart(7)}/s ${ms(st.mean_ms).padStart(9)} ${(st.share_of_top * 100).toFixed(1).padStart(5)}%  ${st.query}`);
  }
  if (r.hub_problems.length) console.log(`  the hub logged ${r.hub_problems.length} warnings/errors, first: ${r.hub_problems.slice(0, 3).join(' | ')}`);
}
