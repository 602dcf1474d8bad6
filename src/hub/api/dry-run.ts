/**
 * What a change would do, agent by agent, without storing it: what the hub wants each agent to run
 * (desiredState) before and after, compared. Only agents whose desired state changes are listed.
 */
import type { AgentRecord, FleetConfig, FleetPinRecord } from '../store/types.js';
import { desiredFor } from './fleet.js';

export interface AgentChange {
  instance_uid: string;
  host: string | null;
  labels: Record<string, string>;
  status: string;
  configs_added: string[];
  configs_changed: string[];
  configs_removed: string[];
  pin_before: string | null;
  pin_after: string | null;
}

export interface Plan {
  dry_run: true;
  agents: AgentChange[];
  /** How many agents the change reaches. */
  reached: number;
}

export function planChange(
  agents: readonly AgentRecord[],
  before: { configs: readonly FleetConfig[]; pins: readonly FleetPinRecord[] },
  after: { configs: readonly FleetConfig[]; pins: readonly FleetPinRecord[] },
  nowMs: number,
): Plan {
  const changes: AgentChange[] = [];
  for (const agent of agents) {
    const b = desiredFor(agent, before.configs, before.pins, nowMs);
    const a = desiredFor(agent, after.configs, after.pins, nowMs);
    if (a.hash === b.hash) continue;
    const was = new Map(b.configs.map((c) => [c.name, c]));
    const now = new Map(a.configs.map((c) => [c.name, c]));
    const pinText = (p: typeof a.pin): string | null => (p ? `${p.profile}${p.until === null ? '' : ` until ${new Date(p.until * 1000).toISOString()}`}` : null);
    changes.push({
      instance_uid: agent.instanceUid,
      host: agent.hostName,
      labels: agent.labels,
      status: agent.status,
      configs_added: [...now.keys()].filter((n) => !was.has(n)),
      configs_changed: [...now.values()].filter((c) => was.has(c.name) && (was.get(c.name)!.hash !== c.hash || was.get(c.name)!.priority !== c.priority)).map((c) => c.name),
      configs_removed: [...was.keys()].filter((n) => !now.has(n)),
      pin_before: pinText(b.pin),
      pin_after: pinText(a.pin),
    });
  }
  return { dry_run: true, agents: changes, reached: changes.length };
}
