/**
 * Config propagation as an operator sees it: the real `nrdot-plus-ctl fleet config apply FILE --name
 * bench --selector role=db` against the hub, then the hub's own view (`GET /api/v1/agents`, polled
 * every 250 ms) until every selected agent reports APPLIED with a hash other than the one it had.
 * The workers' records of when each agent applied it are gathered too: they are the lower bound.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { scratchDir, sleep } from './children.js';
import { ctl, type Hub } from './hub-procs.js';
import type { Propagation } from './hub-report.js';
import type { Applied } from './hub-sim.js';

/** A small valid fragment: balanced's CPU threshold, merged over the defaults by the agent. */
const FRAGMENT = 'profiles:\n  balanced:\n    thresholds:\n      cpu_threshold_percent: 7.5\n';

interface AgentView {
  uid: string;
  role: string | null;
  status: string | null;
  hash: string | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** One agent of the API's answer, whatever the exact casing of the remote config status fields. */
export function agentView(a: unknown): AgentView | null {
  if (!isRecord(a)) return null;
  const uid = str(a.instance_uid) ?? str(a.instanceUid);
  if (!uid) return null;
  const labels = isRecord(a.labels) ? a.labels : {};
  let status: string | null = null;
  let hash: string | null = null;
  for (const key of ['remote_config_status', 'remoteConfigStatus', 'config_status']) {
    const v = a[key];
    if (isRecord(v)) {
      status ??= str(v.status) ?? str(v.state);
      hash ??= str(v.hash) ?? str(v.last_remote_config_hash) ?? str(v.config_hash);
    } else if (typeof v === 'string') status ??= v;
  }
  return { uid, role: str(labels.role), status, hash };
}

export async function agentsView(hub: Hub): Promise<AgentView[]> {
  const res = await fetch(`${hub.url}/api/v1/agents`, { headers: { authorization: `Bearer ${hub.token}` } });
  if (!res.ok) throw new Error(`GET /api/v1/agents: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const body = (await res.json()) as unknown;
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.agents) ? body.agents : null;
  if (!list) throw new Error('GET /api/v1/agents: neither an array nor {agents: [...]}');
  return list.map(agentView).filter((v): v is AgentView => v !== null);
}

export async function measurePropagation(hub: Hub, gatherApplied: () => Promise<Applied[]>, selected: number, heartbeatS: number): Promise<Propagation> {
  const deadlineS = 3 * heartbeatS + 30;
  const result: Propagation = {
    selected,
    cli_s: NaN,
    cli_code: null,
    hub_view_s: null,
    applied_in_hub_view: 0,
    workers_s: null,
    applied_by_workers: 0,
    unselected_applied: 0,
    deadline_s: deadlineS,
    api_polls: 0,
    api_poll_ms_mean: NaN,
    error: null,
  };
  const before = new Map((await agentsView(hub)).map((a) => [a.uid, a.hash]));
  const file = join(scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-hubcfg-'))), 'bench.yaml');
  writeFileSync(file, FRAGMENT);
  await gatherApplied(); // what was applied before is not this
  const t0Wall = Date.now();
  const t0 = performance.now();
  const cli = ctl(hub, ['fleet', 'config', 'apply', file, '--name', 'bench', '--selector', 'role=db']).then((r) => {
    result.cli_s = (performance.now() - t0) / 1000;
    result.cli_code = r.code;
    if (r.code !== 0) result.error = `fleet config apply exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`;
    return r;
  });
  let pollMs = 0;
  for (let next = t0; ; ) {
    const p0 = performance.now();
    const view = await agentsView(hub);
    pollMs += performance.now() - p0;
    result.api_polls++;
    const db = view.filter((a) => a.role === 'db');
    result.applied_in_hub_view = db.filter((a) => a.status === 'APPLIED' && a.hash && a.hash !== before.get(a.uid)).length;
    if (result.applied_in_hub_view >= selected) {
      result.hub_view_s = (performance.now() - t0) / 1000;
      break;
    }
    if (result.error || (performance.now() - t0) / 1000 > deadlineS) break;
    next += 250;
    await sleep(Math.max(0, next - performance.now()));
  }
  await cli;
  result.api_poll_ms_mean = pollMs / result.api_polls;
  const applied = (await gatherApplied()).filter((a) => a.atMs >= t0Wall);
  const dbApplied = applied.filter((a) => a.role === 'db');
  result.applied_by_workers = new Set(dbApplied.map((a) => a.uid)).size;
  result.unselected_applied = applied.length - dbApplied.length;
  if (result.applied_by_workers >= selected) result.workers_s = (Math.max(...dbApplied.map((a) => a.atMs)) - t0Wall) / 1000;
  return result;
}
