/**
 * The registry as the API's routes need it: the fleet's agents, configs and pins read together,
 * what the hub wants each agent to run (desiredState), agents found by UID or a unique prefix of
 * it, time ranges, and the profiles a pin may name.
 */
import { defaultConfig } from '../../config/load.js';
import { isPlainObject } from '../../config/merge.js';
import { parseYamlText } from '../../config/load.js';
import { checkSelector } from '../../fleet/selector.js';
import { desiredState } from '../fleet/desired.js';
import { NOTIFY_ALL_AGENTS } from '../fleet/engine.js';
import type { AgentRecord, FleetConfig, FleetPinRecord, HubStore } from '../store/types.js';
import { badRequest, notFound } from './errors.js';
import type { DesiredView } from './view.js';

export interface Fleet {
  agents: AgentRecord[];
  configs: FleetConfig[];
  pins: FleetPinRecord[];
}

export async function loadFleet(store: HubStore): Promise<Fleet> {
  const [agents, configs, pins] = await Promise.all([store.listAgents(), store.listConfigs(), store.listPins()]);
  return { agents, configs, pins };
}

export function desiredFor(agent: AgentRecord, configs: readonly FleetConfig[], pins: readonly FleetPinRecord[], nowMs: number): DesiredView {
  const d = desiredState(agent, configs as FleetConfig[], pins as FleetPinRecord[], nowMs);
  return { hash: d.hash, configs: d.configs, pin: d.pin ? { profile: d.pin.profile, until: d.pin.until } : null };
}

/** The selector text trimmed, or a 400 naming where it stops parsing. */
export function requireSelector(text: string): string {
  const err = checkSelector(text);
  if (err) throw badRequest(err.message);
  return text.trim();
}

/** The agent with this UID, or the only one whose UID starts with it (4 characters or more). */
export async function resolveAgent(store: HubStore, id: string): Promise<AgentRecord> {
  const exact = await store.getAgent(id);
  if (exact) return exact;
  const prefix = id.toLowerCase();
  const matches = prefix.length >= 4 ? (await store.listAgents()).filter((a) => a.instanceUid.toLowerCase().startsWith(prefix)) : [];
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw badRequest(`"${id}" is the start of ${matches.length} agents' UIDs (${matches.slice(0, 5).map((a) => a.instanceUid).join(', ')}${matches.length > 5 ? ', ...' : ''}); give more of it`);
  throw notFound(`no agent "${id}" (fleet agents lists them)`);
}

/** Unix ms from `1765150000000` or an ISO 8601 time; a 400 naming the parameter otherwise. */
export function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw badRequest(`${name}: "${value}" is neither Unix milliseconds nor an ISO 8601 time`);
  return ms;
}

export function timeRange(q: { from?: string; to?: string }, nowMs: number, defaultSpanMs = 3_600_000): { fromMs: number; toMs: number } {
  const toMs = parseTime(q.to, 'to') ?? nowMs;
  const fromMs = parseTime(q.from, 'from') ?? toMs - defaultSpanMs;
  if (fromMs > toMs) throw badRequest(`from (${new Date(fromMs).toISOString()}) is after to (${new Date(toMs).toISOString()})`);
  return { fromMs, toMs };
}

/** Built-in profiles, then the custom profiles the stored (non-opaque) configs define. */
export function knownProfiles(configs: readonly FleetConfig[]): string[] {
  const names = new Set(Object.keys(defaultConfig().profiles));
  for (const c of configs) {
    if (c.opaque) continue;
    try {
      const { value } = parseYamlText(c.body, c.name);
      const custom = isPlainObject(value) ? value.custom_profiles : undefined;
      if (isPlainObject(custom)) for (const name of Object.keys(custom)) names.add(name);
    } catch {
      // stored configs were validated; one that no longer parses defines nothing
    }
  }
  return [...names];
}

/** Wakes every replica: the agents' desired state changed (they push it to the agents they hold). */
export const AGENTS_CHANGED = NOTIFY_ALL_AGENTS;
