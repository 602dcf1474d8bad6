/**
 * Which profile is in force, and why (SPEC "Fleet"): a local pin (until it expires) > the control
 * loop's emergency guard (the stored profile, `emergency`, while cost stays above twice the budget) >
 * a fleet pin (from the hub's directives, until it expires) > the time schedule
 * (`advanced.time_based_rules`, the first matching rule) > the profile an operator or the control loop
 * set in the state store > the configuration's `state.active_profile`, which is only the first-start
 * default. A stored profile the configuration no longer has falls back to it.
 */
import type { Config } from '../config/index.js';
import { ruleAt, type TimeRule } from '../control/schedule.js';
import type { FleetPin } from '../fleet/directives.js';
import type { Pin, ProfileState } from '../store/index.js';

export type ProfileSource = 'pin' | 'emergency guard' | 'fleet pin' | 'schedule' | 'state store' | 'configuration';

export interface ProfileInForce {
  profile: string;
  source: ProfileSource;
  pin: Pin | null;
  /** The hub's pin, when one is set and not expired (in force or not). */
  fleetPin: FleetPin | null;
  /** The time rule in force, when the schedule decides. */
  rule: TimeRule | null;
  /** Why the stored choice was not used, when it was not. */
  note: string | null;
}

/** A fleet pin whose `until` (unix seconds) has not passed. */
export function liveFleetPin(pin: FleetPin | null | undefined, now: number): FleetPin | null {
  return pin && (pin.until === null || pin.until > now) ? pin : null;
}

export function profileInForce(stored: ProfileState, config: Config, now: number, guard = false, fleet: FleetPin | null = null): ProfileInForce {
  const known = (p: string | null | undefined): p is string => !!p && Object.hasOwn(config.profiles, p);
  const pin = stored.pin && (stored.pin.until === null || stored.pin.until > now) ? stored.pin : null;
  const fleetPin = liveFleetPin(fleet, now);
  const base = { pin: null, fleetPin, rule: null, note: null };
  if (pin && known(pin.profile)) return { ...base, profile: pin.profile, source: 'pin', pin };
  if (guard && stored.active === 'emergency' && known(stored.active)) return { ...base, profile: stored.active, source: 'emergency guard' };
  const missing = (p: string): string => `profile "${p}" is not in the configuration any more`;
  if (fleetPin && known(fleetPin.profile)) return { ...base, profile: fleetPin.profile, source: 'fleet pin' };
  const fleetNote = fleetPin ? `fleet pin: ${missing(fleetPin.profile)}` : null;
  const rule = ruleAt(config.advanced.time_based_rules, new Date(now * 1000));
  if (rule && known(rule.profile)) return { ...base, profile: rule.profile, source: 'schedule', rule, note: fleetNote };
  if (known(stored.active)) {
    return { ...base, profile: stored.active, source: 'state store', note: pin ? `pinned ${missing(pin.profile)}` : fleetNote };
  }
  const note = pin ? `pinned ${missing(pin.profile)}` : stored.active ? missing(stored.active) : fleetNote;
  return { ...base, profile: config.state.active_profile, source: 'configuration', note };
}

/** A pin whose time is up (the daemon clears it and journals why). */
export function pinExpired(stored: ProfileState, now: number): boolean {
  return stored.pin !== null && stored.pin.until !== null && stored.pin.until <= now;
}
