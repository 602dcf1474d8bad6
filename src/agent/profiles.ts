/**
 * Which profile is in force, and why: a pin (until it expires) > the control loop's emergency guard
 * (the stored profile, `emergency`, while cost stays above twice the budget) > the time schedule
 * (`advanced.time_based_rules`, the first matching rule) > the profile an operator (or later the
 * control loop) set in the state store > the configuration's `state.active_profile`, which is only
 * the first-start default. A stored profile the configuration no longer has falls back to it.
 */
import type { Config } from '../config/index.js';
import { ruleAt, type TimeRule } from '../control/schedule.js';
import type { Pin, ProfileState } from '../store/index.js';

export type ProfileSource = 'pin' | 'emergency guard' | 'schedule' | 'state store' | 'configuration';

export interface ProfileInForce {
  profile: string;
  source: ProfileSource;
  pin: Pin | null;
  /** The time rule in force, when the schedule decides. */
  rule: TimeRule | null;
  /** Why the stored choice was not used, when it was not. */
  note: string | null;
}

export function profileInForce(stored: ProfileState, config: Config, now: number, guard = false): ProfileInForce {
  const known = (p: string | null | undefined): p is string => !!p && Object.hasOwn(config.profiles, p);
  const pin = stored.pin && (stored.pin.until === null || stored.pin.until > now) ? stored.pin : null;
  if (pin && known(pin.profile)) return { profile: pin.profile, source: 'pin', pin, rule: null, note: null };
  if (guard && stored.active === 'emergency' && known(stored.active)) return { profile: stored.active, source: 'emergency guard', pin: null, rule: null, note: null };
  const rule = ruleAt(config.advanced.time_based_rules, new Date(now * 1000));
  if (rule && known(rule.profile)) return { profile: rule.profile, source: 'schedule', pin: null, rule, note: null };
  const missing = (p: string): string => `profile "${p}" is not in the configuration any more`;
  if (known(stored.active)) {
    return { profile: stored.active, source: 'state store', pin: null, rule: null, note: pin ? `pinned ${missing(pin.profile)}` : null };
  }
  const note = pin ? `pinned ${missing(pin.profile)}` : stored.active ? missing(stored.active) : null;
  return { profile: config.state.active_profile, source: 'configuration', pin: null, rule: null, note };
}

/** A pin whose time is up (the daemon clears it and journals why). */
export function pinExpired(stored: ProfileState, now: number): boolean {
  return stored.pin !== null && stored.pin.until !== null && stored.pin.until <= now;
}
