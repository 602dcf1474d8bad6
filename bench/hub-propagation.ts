/**
 * Config propagation as an operator sees it: the real `nrdot-plus-ctl fleet config apply FILE --name
 * bench --selector role=db` against the hub, then the hub's own view (`GET /api/v1/agents`, polled
 * every 250 ms, `?selector=role=db`) until every selected agent's `config_status` is APPLIED with the
 * benchmark's config among its `configs` (the hub computes APPLIED: reported hash = desired hash).
 * The workers' records of when each agent applied it are gathered too: they are the lower bound.
 * With `--propagation-view workers` the hub's view is read only once the workers saw every agent
 * apply it (polling a large fleet's view is work for the hub: see bench/README.md).
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
const NAME = 'bench';
const SELECTOR = 'role=db';

interface AgentView {
  uid: string;
  role: string | null;
  status: string | null;
  /** Names of the fleet configs that select it. */
  configs: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** One agent of `GET /api/v1/agents` (as `fleet agents --json` prints it). */
export function agentView(a: unknown): AgentView | null {
  if (!isRecord(a)) return null;
  const uid = str(a.instance_uid);
  if (!uid) return null;
  const labels = isRecord(a.labels) ? a.labels : {};
  const configs = Array.isArray(a.configs) ? a.configs.map((c) => (isRecord(c) ? str(c.name) : null)).filter((n): n is string => n !== null) : [];
  return { uid, role: str(labels.role), status: str(a.config_status), configs };
}

export async function agentsView(hub: Hub, selector: string): Promise<AgentView[]> {
  const res = await fetch(`${hub.url}/api/v1/agents?selector=${encodeURIComponent(selector)}`, { headers: { authorization: `Bearer ${hub.token}` } });
  if (!res.ok) throw new Error(`GET /api/v1/agents: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const body = (await res.json()) as unknown;
  const list = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.agents) ? body.agents : null;
  if (!list) throw new Error('GET /api/v1/agents: neither an array nor {agents: [...]}');
  return list.map(agentView).filter((v): v is AgentView => v !== null);
}

export type PropagationView = 'hub' | 'workers';

export async function measurePropagation(hub: Hub, gatherApplied: () => Promise<Applied[]>, selected: number, heartbeatS: number, view: PropagationView): Promise<Propagation> {
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
    api_errors: 0,
    api_last_error: null,
    view,
    error: null,
  };
  const already = await agentsView(hub, SELECTOR).then((v) => v.filter((a) => a.configs.includes(NAME)).length, () => 0);
  if (already) throw new Error(`${already} agents already have the config "${NAME}"`);
  const file = join(scratchDir(mkdtempSync(join(os.tmpdir(), 'nrdot-bench-hubcfg-'))), 'bench.yaml');
  writeFileSync(file, FRAGMENT);
  await gatherApplied(); // what was applied before is not this
  const t0Wall = Date.now();
  const t0 = performance.now();
  const cli = ctl(hub, ['fleet', 'config', 'apply', file, '--name', NAME, '--selector', SELECTOR]).then((r) => {
    result.cli_s = (performance.now() - t0) / 1000;
    result.cli_code = r.code;
    if (r.code !== 0) result.error = `fleet config apply exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`;
    return r;
  });
  let pollMs = 0;
  const applied: Applied[] = [];
  const pollHub = async (): Promise<void> => {
    const p0 = performance.now();
    try {
      const view = await agentsView(hub, SELECTOR);
      result.applied_in_hub_view = view.filter((a) => a.role === 'db' && a.status === 'APPLIED' && a.configs.includes(NAME)).length;
    } catch (err) {
      // An overloaded hub failing to answer its API is a figure too; the polling goes on.
      result.api_errors++;
      result.api_last_error = (err as Error).message.slice(0, 300);
    }
    pollMs += performance.now() - p0;
    result.api_polls++;
  };
  const workersDone = async (): Promise<boolean> => {
    applied.push(...(await gatherApplied()).filter((a) => a.atMs >= t0Wall));
    return new Set(applied.filter((a) => a.role === 'db').map((a) => a.uid)).size >= selected;
  };
  const late = (): boolean => (performance.now() - t0) / 1000 > deadlineS;
  // 'hub': the hub's view, the next poll 250 ms after the previous answer (one at a time, however
  // long the hub takes). 'workers': the workers' records every 250 ms, then the hub's view to confirm.
  if (view === 'workers') {
    while (!(await workersDone()) && !result.error && !late()) await sleep(250);
  }
  for (;;) {
    await pollHub();
    if (result.applied_in_hub_view >= selected) {
      result.hub_view_s = (performance.now() - t0) / 1000;
      break;
    }
    if (result.error || late()) break;
    await sleep(250);
  }
  await cli;
  await workersDone();
  result.api_poll_ms_mean = pollMs / result.api_polls;
  const dbApplied = applied.filter((a) => a.role === 'db');
  result.applied_by_workers = new Set(dbApplied.map((a) => a.uid)).size;
  result.unselected_applied = applied.length - dbApplied.length;
  if (result.applied_by_workers >= selected) result.workers_s = (Math.max(...dbApplied.map((a) => a.atMs)) - t0Wall) / 1000;
  return result;
}
