// What an AgentToServer status report says about an agent, as a patch of its stored record.
// Only the sub-messages present change anything (OpAMP's status compression: an absent
// sub-message means "unchanged").
import {
  attributesToRecord,
  RemoteConfigStatuses,
  type AgentToServer,
  type AttributeValue,
  type ComponentHealth,
} from '../../fleet/codec.js';
import { NRDOT_CAPABILITY } from '../../fleet/directives.js';
import type { AgentHealthRecord, AgentPatch, AgentRecord, RemoteConfigState } from '../store/types.js';

/** Non-identifying attributes with this prefix are the agent's fleet labels. */
export const LABEL_PREFIX = 'nrdot.fleet.labels.';
/** Health attributes the NRDOT agent reports its profile in force (and why) with. */
export const PROFILE_ATTRIBUTE = 'nrdot.profile';
export const PROFILE_REASON_ATTRIBUTE = 'nrdot.profile.reason';
/** Identity the clone check compares (identifying host.id, non-identifying boot id). */
export const HOST_ID_ATTRIBUTE = 'host.id';
export const BOOT_ID_ATTRIBUTE = 'nrdot.host.boot_id';
/** When the host booted (Unix seconds): tells a quick reboot from a copy running beside the original. */
export const BOOT_TIME_ATTRIBUTE = 'nrdot.host.boot_time';

const STATES: Record<number, RemoteConfigState> = {
  [RemoteConfigStatuses.RemoteConfigStatuses_UNSET]: 'UNSET',
  [RemoteConfigStatuses.RemoteConfigStatuses_APPLIED]: 'APPLIED',
  [RemoteConfigStatuses.RemoteConfigStatuses_APPLYING]: 'APPLYING',
  [RemoteConfigStatuses.RemoteConfigStatuses_FAILED]: 'FAILED',
};

function nanosToMs(ns: bigint): number | null {
  return ns === 0n ? null : Number(ns / 1_000_000n);
}

function str(v: AttributeValue | undefined): string | null {
  return v === undefined ? null : String(v);
}

export function healthRecord(h: ComponentHealth): AgentHealthRecord {
  const components: AgentHealthRecord['components'] = {};
  for (const [name, c] of Object.entries(h.componentHealthMap)) {
    components[name] = { healthy: c.healthy, status: c.status, lastError: c.lastError };
  }
  return {
    healthy: h.healthy,
    status: h.status,
    lastError: h.lastError,
    startTimeMs: nanosToMs(h.startTimeUnixNano),
    statusTimeMs: nanosToMs(h.statusTimeUnixNano),
    attributes: attributesToRecord(h.attributes),
    components,
  };
}

export function labelsOf(nonIdentifying: Record<string, AttributeValue>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(nonIdentifying)) {
    if (k.startsWith(LABEL_PREFIX) && k.length > LABEL_PREFIX.length) labels[k.slice(LABEL_PREFIX.length)] = String(v);
  }
  return labels;
}

/** A message with nothing but the heartbeat (UID, sequence number, capabilities). */
export function isPureHeartbeat(msg: AgentToServer): boolean {
  return (
    !msg.agentDescription &&
    !msg.health &&
    !msg.effectiveConfig &&
    !msg.remoteConfigStatus &&
    !msg.customCapabilities &&
    !msg.customMessage &&
    !msg.packageStatuses &&
    !msg.agentDisconnect &&
    !msg.connectionSettingsStatus &&
    !msg.availableComponents
  );
}

/** The fields of a message that change the stored record (heartbeat fields left out). */
export function patchFromReport(msg: AgentToServer, rec: AgentRecord | null): AgentPatch {
  const patch: AgentPatch = {};
  const d = msg.agentDescription;
  if (d) {
    const identifying = attributesToRecord(d.identifyingAttributes);
    const nonIdentifying = attributesToRecord(d.nonIdentifyingAttributes);
    patch.description = { identifying, nonIdentifying };
    patch.labels = labelsOf(nonIdentifying);
    patch.version = str(identifying['service.version'] ?? nonIdentifying['service.version']);
    patch.hostName = str(nonIdentifying['host.name'] ?? identifying['host.name']);
  }
  const caps = Number(msg.capabilities);
  if (!rec || rec.capabilities !== caps) patch.capabilities = caps;
  if (msg.customCapabilities) {
    const list = [...msg.customCapabilities.capabilities].sort();
    patch.customCapabilities = list;
    patch.kind = list.includes(NRDOT_CAPABILITY) ? 'nrdot' : 'other';
  }
  if (msg.health) {
    const health = healthRecord(msg.health);
    patch.health = health;
    patch.profile = str(health.attributes[PROFILE_ATTRIBUTE]);
    patch.profileReason = str(health.attributes[PROFILE_REASON_ATTRIBUTE]);
  }
  if (msg.effectiveConfig) {
    const files: Record<string, string> = {};
    for (const [name, f] of Object.entries(msg.effectiveConfig.configMap?.configMap ?? {})) {
      files[name] = Buffer.from(f.body).toString('utf8');
    }
    patch.effectiveConfig = files;
  }
  if (msg.remoteConfigStatus) {
    const s = msg.remoteConfigStatus;
    patch.remoteConfigStatus = {
      hash: Buffer.from(s.lastRemoteConfigHash).toString('hex'),
      status: STATES[s.status] ?? 'UNSET',
      error: s.errorMessage,
    };
  }
  return patch;
}

export interface Identity {
  hostId: string | null;
  bootId: string | null;
  /** Unix ms, or null when the agent does not say. */
  bootTimeMs: number | null;
}

export function identityOf(description: AgentRecord['description']): Identity {
  if (!description) return { hostId: null, bootId: null, bootTimeMs: null };
  const bootTime = Number(description.nonIdentifying[BOOT_TIME_ATTRIBUTE]);
  return {
    hostId: str(description.identifying[HOST_ID_ATTRIBUTE] ?? description.nonIdentifying[HOST_ID_ATTRIBUTE]),
    bootId: str(description.nonIdentifying[BOOT_ID_ATTRIBUTE] ?? description.identifying[BOOT_ID_ATTRIBUTE]),
    bootTimeMs: Number.isFinite(bootTime) && bootTime > 0 ? bootTime * 1000 : null,
  };
}

/**
 * Different host or boot than the stored record (both sides must carry the attribute). A new boot
 * of the same host that began after the stored agent was last heard from is that host rebooted
 * (quickly, without a goodbye), not a copy running beside it.
 */
export function identityDiffers(incoming: Identity, stored: Identity, storedLastSeenMs = Number.POSITIVE_INFINITY): boolean {
  if (incoming.hostId !== null && stored.hostId !== null && incoming.hostId !== stored.hostId) return true;
  if (incoming.bootId === null || stored.bootId === null || incoming.bootId === stored.bootId) return false;
  return !(incoming.bootTimeMs !== null && incoming.bootTimeMs > storedLastSeenMs);
}

/** Observed interval (seconds): an average over the gaps before pure heartbeats, which come one
 * heartbeat after the previous message; a status report right after a config is not a heartbeat
 * and would make an agent look faster than it is (and so offline too early). */
export function observedInterval(prev: number | null, gapMs: number | null, pure: boolean): number | null {
  if (!pure || gapMs === null || gapMs <= 0) return prev;
  const gap = gapMs / 1000;
  return prev === null ? gap : Math.round((0.5 * prev + 0.5 * gap) * 1000) / 1000;
}
