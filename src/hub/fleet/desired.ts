// What the hub wants an agent to have: the fleet configurations that select it, in applying
// order, and (NRDOT agents only) the directives file with the fleet pin and the control loop
// switch. Pure: the engine, --dry-run and rollouts all compute it the same way, and the hash
// is what the agent reports back as last_remote_config_hash.
import { createHash } from 'node:crypto';
import { DIRECTIVES_FILE, fragmentName, type Directives } from '../../fleet/directives.js';
import { parseSelector, subjectOf, type Selector } from '../../fleet/selector.js';
import type { AgentRecord, FleetConfig, FleetPinRecord } from '../store/types.js';

export interface ConfigFile {
  body: string;
  contentType: string;
}

export interface DesiredExtra {
  /** The rollout or experiment that owns the agent, and the control loop switch it asks for. */
  rollout?: Directives['rollout'];
  experiment?: Directives['experiment'];
  controlLoop?: Directives['control_loop'];
}

export interface DesiredState {
  /** The configs that select the agent, in applying order (ascending priority, then name). */
  configs: FleetConfig[];
  /** The fleet pin in force for it, if any. */
  pin: FleetPinRecord | null;
  /** null for agents other than NRDOT-Plus: they get no directives file. */
  directives: Directives | null;
  configMap: Record<string, ConfigFile>;
  /** sha256 hex over the config map: the remote config's config_hash. */
  hash: string;
}

const parsed = new Map<string, Selector>();

/** Selectors are parsed once (they were validated when stored); 10,000 agents share them. */
function selector(text: string): Selector {
  let s = parsed.get(text);
  if (!s) {
    if (parsed.size > 10_000) parsed.clear();
    s = parseSelector(text);
    parsed.set(text, s);
  }
  return s;
}

export function applyingOrder(a: FleetConfig, b: FleetConfig): number {
  return a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Operator pins win over rollouts' and experiments'; among equals, the newest. */
export function winningPin(pins: readonly FleetPinRecord[]): FleetPinRecord | null {
  let best: FleetPinRecord | null = null;
  for (const p of pins) {
    if (!best) best = p;
    else if ((p.ownerKind === 'operator') !== (best.ownerKind === 'operator')) best = p.ownerKind === 'operator' ? p : best;
    else if (p.createdMs > best.createdMs || (p.createdMs === best.createdMs && p.id > best.id)) best = p;
  }
  return best;
}

export function pinActive(pin: FleetPinRecord, nowMs: number): boolean {
  return pin.until === null || pin.until * 1000 > nowMs;
}

export function desiredState(
  agent: Pick<AgentRecord, 'kind' | 'labels' | 'description'>,
  configs: readonly FleetConfig[],
  pins: readonly FleetPinRecord[],
  nowMs: number,
  extra: DesiredExtra = {},
): DesiredState {
  const subject = subjectOf(agent);
  const mine = configs.filter((c) => selector(c.selector).matches(subject)).sort(applyingOrder);
  const pin = winningPin(pins.filter((p) => pinActive(p, nowMs) && selector(p.selector).matches(subject)));
  const configMap: Record<string, ConfigFile> = {};
  mine.forEach((c, i) => {
    configMap[fragmentName(i, c.name)] = { body: c.body, contentType: c.contentType };
  });
  let directives: Directives | null = null;
  if (agent.kind === 'nrdot') {
    directives = {
      pin: pin ? { profile: pin.profile, until: pin.until, by: pin.by, reason: pin.reason } : null,
      control_loop: extra.controlLoop ?? null,
      rollout: extra.rollout ?? null,
      experiment: extra.experiment ?? null,
    };
    configMap[DIRECTIVES_FILE] = { body: JSON.stringify(directives), contentType: 'application/json' };
  }
  return { configs: mine, pin, directives, configMap, hash: configMapHash(configMap) };
}

/** The hash of a config map: names in order, each with its content type and body. */
export function configMapHash(configMap: Readonly<Record<string, ConfigFile>>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(configMap).sort()) {
    const f = configMap[name]!;
    h.update(`${name.length}:${name}${f.contentType.length}:${f.contentType}${Buffer.byteLength(f.body)}:`);
    h.update(f.body);
  }
  return h.digest('hex');
}
