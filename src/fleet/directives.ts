// The directives file the hub sends NRDOT agents beside their fleet fragments, as
// `nrdot-fleet.json` in the remote config's AgentConfigMap. Produced by src/hub, read by
// the agent's fleet layer (src/agent/fleet.ts). Other OpAMP agents never get it.
import { z } from 'zod';

export const DIRECTIVES_FILE = 'nrdot-fleet.json';
/** Fleet fragments are named `fleet/NN-NAME.yaml`, NN the applying order from 00. */
export const FRAGMENT_PREFIX = 'fleet/';
/** The custom capability of the hub's request channel (top, explain, journal). */
export const NRDOT_CAPABILITY = 'io.nrdot.plus/v1';

export const FleetPinSchema = z.object({
  profile: z.string().min(1),
  /** Unix seconds, or null for no expiry. */
  until: z.number().nullable(),
  by: z.string(),
  reason: z.string(),
});
export type FleetPin = z.infer<typeof FleetPinSchema>;

export const OwnerSchema = z.object({ id: z.string(), name: z.string().optional(), phase: z.string().optional() });

export const DirectivesSchema = z.object({
  pin: FleetPinSchema.nullable(),
  control_loop: z.enum(['on', 'off']).nullable(),
  rollout: OwnerSchema.nullable().optional(),
  experiment: OwnerSchema.nullable().optional(),
});
export type Directives = z.infer<typeof DirectivesSchema>;

export const NO_DIRECTIVES: Directives = { pin: null, control_loop: null, rollout: null, experiment: null };

export function fragmentName(index: number, name: string): string {
  return `${FRAGMENT_PREFIX}${String(index).padStart(2, '0')}-${name}.yaml`;
}
