/**
 * The control loop inside the daemon: runs a check (src/control/controller.ts) every check_interval
 * of data time on the KPI rows in the state store, records every check with its inputs, applies the
 * loop's profile to the store (journaled, who: "control loop"), and keeps its memory (dwell, freeze,
 * emergency guard, alert episodes) and whether an operator started or stopped it in the store, so
 * that a restart carries on, a started loop keeps running and a stopped loop stays stopped.
 *
 * Whether it runs: stopped by `control stop` or a rollback, until `control start`; else started by
 * `control start`, until `control stop`; else as the configuration says (`control_loop.enabled`,
 * off by default: a fresh install keeps the profile it was given).
 */
import type { Actor } from '../api/routes.js';
import type { Config } from '../config/index.js';
import { check, checkDue, initialMemory, loopTargets, SHADOW_WINDOW_SECONDS, type Check, type CheckEvent, type ControlMemory, type InForceSource } from '../control/controller.js';
import type { DecisionRow, ShadowKpiRecord, StateStore } from '../store/index.js';
import { usd as usdPerHour } from '../control/loop.js';
import type { Logger } from './log.js';

const MEMORY = 'control.memory';
const STOPPED = 'control.stopped';
/** Written by `control start` (and by migration 3 for a loop that ran before it was off by default). */
const STARTED = 'control.started';

/** Whether the emergency guard was on when the daemon last stopped (for the profile at start). */
export function storedGuard(store: StateStore): boolean {
  return store.getSetting<ControlMemory>(MEMORY)?.guard ?? false;
}

/**
 * Stops the loop in the store (kept across restarts), also with no daemon running (an offline
 * rollback): a stopped loop holds nothing over the schedule, so the emergency guard ends too.
 */
export function stopInStore(store: StateStore, stopped: Stopped): void {
  store.setSetting(STOPPED, stopped);
  store.setSetting(STARTED, undefined);
  const memory = store.getSetting<ControlMemory>(MEMORY);
  if (memory?.guard) store.setSetting(MEMORY, { ...memory, guard: false });
}

/** Why the loop is stopped (or was started): by whom, when (unix seconds), why. */
export interface Stopped {
  time: number;
  who: string;
  reason: string;
}

export interface ControlParts {
  store: StateStore;
  log: Logger;
  config: Config;
  /** Raises a webhook event (budget_exceeded, series_exceeded, coverage_violation). */
  raise: (event: CheckEvent, details: Record<string, unknown>, time: number) => void;
  /** Shadow profiles' KPI rows from `since` (exclusive) to `until` (inclusive); empty without shadows. */
  shadows?: (since: number, until: number) => ShadowKpiRecord[];
}

export class ControlLoop {
  private memory: ControlMemory | null;
  /** Off by the configuration (control_loop.enabled: false, the default), unless `control start` says otherwise. */
  private configStop: Stopped | null = null;

  constructor(private readonly p: ControlParts) {
    this.memory = p.store.getSetting<ControlMemory>(MEMORY) ?? null;
    this.setConfig(p.config, Date.now() / 1000, true);
  }

  /** A reloaded configuration: new targets from the next check; `enabled` turns the loop on or off unless an operator started or stopped it. */
  setConfig(config: Config, now: number, initial = false): void {
    const was = this.p.config.control_loop.enabled;
    this.p.config = config;
    if (config.control_loop.enabled) this.configStop = null;
    else if (initial || was) this.configStop = { time: now, who: 'configuration', reason: 'control_loop.enabled is false, the default; NRDOT_ENABLE_CONTROL_LOOP=true turns it on' };
  }

  /** The emergency guard: the stored `emergency` wins over the schedule. */
  get guard(): boolean {
    return this.memory?.guard ?? false;
  }

  get stopped(): Stopped | null {
    return this.p.store.getSetting<Stopped>(STOPPED) ?? (this.started ? null : this.configStop);
  }

  /** Started by `control start` (kept across restarts, over a configuration that leaves the loop off). */
  get started(): Stopped | null {
    return this.p.store.getSetting<Stopped>(STARTED) ?? null;
  }

  get running(): boolean {
    return this.stopped === null;
  }

  /** A check is due at data time `now` (the first one a check_interval after the loop started). */
  due(now: number): boolean {
    if (this.memory === null) this.remember(initialMemory(this.p.store.profileState().active ?? this.p.config.state.active_profile, now));
    return checkDue(this.memory!.lastCheck, now, this.p.config.control_loop.check_interval);
  }

  private remember(memory: ControlMemory): void {
    this.memory = memory;
    this.p.store.setSetting(MEMORY, memory);
  }

  /**
   * One check at data time `now`, on the intervals stored since the previous check. Sets the
   * stored profile when the loop changes it; the caller applies the profile in force.
   */
  run(now: number, inForce: { profile: string; source: InForceSource }, stored: string, scheduled: string | null, forced = false): Check {
    const { store, log } = this.p;
    const memory = this.memory ?? initialMemory(stored, now - this.p.config.control_loop.check_interval);
    const since = memory.lastCheck <= now ? memory.lastCheck : now - this.p.config.control_loop.check_interval;
    let rows = store.kpiHistory({ resolution: 'raw', since: since + 1e-6, until: now });
    // Forced with nothing new since the last check (the check ran at the latest interval): look at it again.
    if (forced && rows.length === 0) rows = store.kpiHistory({ resolution: 'raw', limit: 1 });
    const shadows = this.p.shadows?.(now - SHADOW_WINDOW_SECONDS, now) ?? [];
    const c = check({ time: now, inForce, stored, scheduled, rows, shadows, running: this.running }, memory, loopTargets(this.p.config));
    this.remember(c.memory);
    // In force after: the loop's profile, unless a time rule takes over again (the guard lifted).
    const after = !c.changed ? inForce.profile : c.memory.guard || scheduled === null ? c.to : scheduled;
    // From and to in force, as status and the journal say it (the stored profile may be masked by a pin or a rule).
    store.recordDecision({
      time: now,
      inputs: { ...c.inputs, budget: c.budget, in_force: inForce, stored, forced, guard: c.memory.guard },
      outcome: c.outcome,
      from: inForce.profile,
      to: after,
      reason: c.reason,
    });
    const reach = c.memory.loop.visibilityOutOfReach ?? null;
    if ((reach === null) !== (memory.loop.visibilityOutOfReach == null)) {
      // Once per episode: every check records it, the log says when it begins and ends.
      const min = `${(this.p.config.control_loop.min_visibility * 100).toFixed(1)}%`;
      if (reach) log.info({ best: reach.best, visibility: reach.visibility }, `control loop: no profile reaches visibility ${min} on this host (best: ${reach.best} ${(reach.visibility * 100).toFixed(1)}%); the visibility rule holds until one does`);
      else log.info({}, `control loop: the minimum visibility ${min} is met, or within reach of a profile, again`);
    }
    if (c.changed) {
      store.setActiveProfile(c.to, { time: now, who: 'control loop', reason: c.reason, inForce: { from: inForce.profile, to: after } });
      log.info({ from: c.from, to: c.to, rule: c.rule, guard: c.memory.guard }, `control loop: ${c.from} -> ${c.to}: ${c.reason}`);
    } else {
      log.debug({ outcome: c.outcome, profile: c.from }, `control loop: ${c.outcome}: ${c.reason}`);
    }
    for (const e of c.events) {
      log.warn({ event: e.event, ...e.details }, `${e.event}: ${describeEvent(e.event, e.details)}`);
      this.p.raise(e.event, e.details, now);
    }
    return c;
  }

  /** Stops the loop (kept across restarts). False when it was already stopped by someone (`replace`: record this stop instead). */
  stop(time: number, by: Actor, replace = false): boolean {
    if (this.p.store.getSetting<Stopped>(STOPPED) && !replace) return false;
    stopInStore(this.p.store, { time, who: by.who, reason: by.reason });
    this.memory = this.p.store.getSetting<ControlMemory>(MEMORY) ?? null;
    this.p.log.info({ by: by.who }, `control loop stopped by ${by.who}: ${by.reason}`);
    return true;
  }

  /** Starts the loop, also over a configuration that leaves it off, until `control stop` (kept across restarts). False when it was running. */
  start(time: number, by: Actor): boolean {
    const was = this.stopped;
    if (was === null) return false;
    this.p.store.setSetting(STOPPED, undefined);
    this.p.store.setSetting(STARTED, { time, who: by.who, reason: by.reason });
    // The dwell restarts: the loop picks up from the profile in force now, not from its old memory.
    if (this.memory) this.remember({ ...this.memory, lastCheck: time, guard: false, loop: { ...this.memory.loop, lastChange: time, calmSince: null } });
    this.p.log.info({ by: by.who }, `control loop started by ${by.who}: ${by.reason}`);
    return true;
  }

  /** For `control status`. */
  status(now: number): unknown {
    const c = this.p.config.control_loop;
    const targets = loopTargets(this.p.config);
    const memory = this.memory;
    // Every check is recorded: the latest one is the store's.
    const last = this.p.store.decisions({ limit: 1 })[0] ?? null;
    return {
      running: this.running,
      stopped: this.stopped,
      started: this.running ? this.started : null,
      enabled_by_configuration: c.enabled,
      check_interval_s: c.check_interval,
      next_check_in_s: memory === null ? c.check_interval : Math.max(0, Math.round(memory.lastCheck + c.check_interval - now)),
      targets: {
        budget: targets.maxCostPerHour === null ? { kind: 'relative', target_reduction: targets.targetReduction } : { kind: 'absolute', max_cost_per_hour: targets.maxCostPerHour },
        max_series: targets.maxSeries,
        target_series: targets.targetSeries,
        min_visibility: targets.minVisibility,
        dwell_s: targets.dwellSeconds,
        freeze: { changes: targets.freezeChanges, window_s: targets.freezeWindowSeconds, for_s: targets.freezeSeconds },
      },
      guard: memory?.guard ?? false,
      visibility_out_of_reach: memory?.loop.visibilityOutOfReach ?? null,
      frozen_until: memory?.loop.frozenUntil ?? null,
      last_change: memory?.loop.lastChange ?? null,
      last_check: last,
    };
  }

  history(q: { since?: number; limit?: number; changes?: boolean }): DecisionRow[] {
    return this.p.store.decisions(q);
  }
}

const usd = (v: unknown): string => (typeof v === 'number' ? usdPerHour(v) : String(v));

function describeEvent(event: string, d: Record<string, unknown>): string {
  switch (event) {
    case 'budget_exceeded':
      return `cost ${usd(d.cost_per_hour)} above budget ${usd(d.budget_per_hour)} in ${String(d.profile)}`;
    case 'series_exceeded':
      return `${String(d.series)} series above max ${String(d.max_series)} in ${String(d.profile)}`;
    case 'coverage_violation':
      return d.kind === 'critical' ? `critical coverage ${String(d.coverage_critical)} below 1 in ${String(d.profile)}` : `visibility ${((d.visibility as number) * 100).toFixed(1)}% below ${((d.min_visibility as number) * 100).toFixed(1)}% in ${String(d.profile)}`;
    default:
      return event;
  }
}
