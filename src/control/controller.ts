/**
 * One check of the control loop in its surroundings: which KPIs it looks at, what precedence lets it
 * do (pin > emergency guard > schedule > loop), what it records, and which alerts the check raises.
 * Pure, like `decide`: the daemon feeds it the store's KPI rows and applies the result; `simulate
 * --control` feeds it a recording's intervals. Both therefore make the same decisions at the same
 * data times.
 */
import type { Config } from '../config/index.js';
import type { KpiRecord, ShadowKpiRecord } from '../store/index.js';
import { ANTI_THRASHING, budgetPerHour, decide, HEADROOM, usd, type Prediction, initialLoopState, LADDER, type LoopDecision, type LoopInputs, type LoopRule, type LoopState, type LoopTargets } from './loop.js';

/** Where the profile in force comes from (src/agent/profiles.ts). */
export type InForceSource = 'pin' | 'emergency guard' | 'fleet pin' | 'schedule' | 'state store' | 'configuration';

/** The alerts a check can raise (webhook events; `profile_change` and `rollback` are raised elsewhere). */
export type CheckEvent = 'budget_exceeded' | 'series_exceeded' | 'coverage_violation';

/** What the loop remembers between checks (kept in the state store across restarts). */
export interface ControlMemory {
  loop: LoopState;
  /** Data time of the last check (unix seconds), or of the loop's start before the first. */
  lastCheck: number;
  /** The emergency guard is on: `emergency` wins over the schedule until the loop steps out of it. */
  guard: boolean;
  /** Conditions that raised an alert and have not cleared yet (an alert is raised once per episode). */
  alerting: Partial<Record<'budget' | 'series' | 'critical' | 'visibility', boolean>>;
}

/** The memory of a loop starting at `now`. */
export function initialMemory(profile: string, now: number): ControlMemory {
  return { loop: initialLoopState(profile), lastCheck: now, guard: false, alerting: {} };
}

/** What a check looked at. */
export interface CheckInputs extends LoopInputs {
  profile: string;
  /** Intervals averaged. */
  intervals: number;
  coverageCritical: number | null;
}

export type CheckOutcome = 'hold' | 'step' | 'emergency' | 'frozen' | 'pinned' | 'schedule' | 'no data';

export interface Check {
  time: number;
  /** Null when there was nothing to look at. */
  inputs: CheckInputs | null;
  outcome: CheckOutcome;
  rule: LoopRule | null;
  from: string;
  /** The profile the loop chose (the stored profile); equal to `from` when nothing changed. */
  to: string;
  changed: boolean;
  reason: string;
  budget: number | null;
  memory: ControlMemory;
  events: { event: CheckEvent; details: Record<string, unknown> }[];
}

/**
 * A check is due at data time `now`: every check_interval, with a second's slack for the jitter of
 * collection times, or at once when the clock went back. The first check comes a check_interval after
 * the loop starts (`lastCheck` is then its start): the first intervals of a fresh pipeline have no
 * rates yet.
 */
export function checkDue(lastCheck: number, now: number, checkInterval: number): boolean {
  return now < lastCheck || now - lastCheck + 1 >= checkInterval;
}

/**
 * How far back the shadow profiles' KPIs price a step toward visibility: an hour. Shorter windows
 * miss the bursts of a busy host (a CI runner's compiler storms come every few minutes) and the loop
 * steps into a profile that goes over budget at the next burst (bench/control.ts, the CI runner's
 * day, bytes: 25 profile changes with a 300 s window, 17 with 30 minutes, 11 with an hour).
 */
export const SHADOW_WINDOW_SECONDS = 3600;

/** The targets of `control_loop` (already merged with the NRDOT_* environment variables). */
export function loopTargets(config: Config): LoopTargets {
  const c = config.control_loop;
  return {
    maxCostPerHour: c.max_cost_per_hour ?? null,
    targetReduction: c.target_reduction,
    maxSeries: c.max_series,
    targetSeries: c.target_series,
    minVisibility: c.min_visibility,
    ...ANTI_THRASHING,
  };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The loop's inputs from the intervals since the last check that ran under `profile` (intervals of
 * another profile say nothing about this one): means of cost, baseline, series and visibility, the
 * worst critical coverage; and, from the shadow rows given (the last SHADOW_WINDOW_SECONDS), what each other
 * profile would cost and show on average.
 */
export function checkInputs(rows: readonly KpiRecord[], profile: string, shadows: readonly ShadowKpiRecord[] = []): CheckInputs | null {
  const own = rows.filter((r) => r.profile === profile);
  if (own.length === 0) return null;
  const coverage = own.map((r) => r.coverage_critical).filter((c): c is number => c !== null);
  // A shadow's mean over the window: one interval is noise (a burst of short-lived processes), and a
  // step taken on a lucky interval bounces back at the next check.
  const sums = new Map<string, { cost: number; max: number; series: number; visibility: number; n: number }>();
  for (const s of shadows) {
    if (s.profile === profile) continue;
    const sum = sums.get(s.profile) ?? { cost: 0, max: 0, series: 0, visibility: 0, n: 0 };
    sum.cost += s.cost_per_hour_optimized;
    sum.visibility += s.visibility;
    sum.max = Math.max(sum.max, s.cost_per_hour_optimized);
    sum.series = Math.max(sum.series, s.series_exported);
    sum.n++;
    sums.set(s.profile, sum);
  }
  const predicted: Record<string, Prediction> = {};
  for (const [name, sum] of sums) predicted[name] = { costPerHour: sum.cost / sum.n, costPerHourMax: sum.max, series: sum.series, visibility: sum.visibility / sum.n };
  return {
    profile,
    intervals: own.length,
    costPerHour: mean(own.map((r) => r.cost_per_hour_optimized)),
    costPerHourBaseline: mean(own.map((r) => r.cost_per_hour_baseline)),
    series: Math.round(mean(own.map((r) => r.series_exported))),
    visibility: mean(own.map((r) => r.visibility)),
    coverageCritical: coverage.length ? Math.min(...coverage) : null,
    ...(Object.keys(predicted).length ? { predicted } : {}),
  };
}

export interface CheckContext {
  time: number;
  /** The profile in force and why (before this check). */
  inForce: { profile: string; source: InForceSource };
  /** The profile the loop manages: the state store's (set by operators or the loop). */
  stored: string;
  /** KPI rows since the last check (any profile), oldest first. */
  rows: readonly KpiRecord[];
  /** Shadow profiles' KPI rows of the last SHADOW_WINDOW_SECONDS. */
  shadows?: readonly ShadowKpiRecord[];
  /** False when the loop is stopped: alerts are still raised, nothing changes. */
  running: boolean;
  /** The profile the time schedule would put in force now (under a pin or the guard too), or null. */
  scheduled?: string | null;
}


/** One check. Returns what to record and apply: the stored profile to set (`to`), the guard, the alerts. */
export function check(ctx: CheckContext, previous: ControlMemory, targets: LoopTargets, ladder: readonly string[] = LADDER): Check {
  const { time, inForce, stored } = ctx;
  // The loop manages the stored profile; an operator who set another restarts its dwell, and ends
  // the emergency guard (it only ever keeps the loop's own `emergency` in force).
  let loop = previous.loop;
  const operator = loop.profile !== stored;
  if (operator) loop = { ...loop, profile: stored, lastChange: time, calmSince: null };
  let memory: ControlMemory = { ...previous, loop, lastCheck: time, alerting: { ...previous.alerting }, guard: previous.guard && !operator && stored === 'emergency' };
  const inputs = checkInputs(ctx.rows, inForce.profile, ctx.shadows);
  const stopped = 'the loop is stopped';
  const pinned = `pinned to ${inForce.profile}: the loop does not act`;
  if (inputs === null) {
    // Stopped or pinned says what status says, data or not; "no data" is for a loop that would act.
    if (!ctx.running || inForce.source === 'pin') {
      return { time, inputs, outcome: ctx.running ? 'pinned' : 'hold', rule: null, from: stored, to: stored, changed: false, reason: ctx.running ? pinned : stopped, budget: null, memory, events: [] };
    }
    const reason = ctx.rows.length === 0 ? 'no interval since the last check' : `no interval of ${inForce.profile} since the last check (waiting for its KPIs)`;
    return { time, inputs, outcome: 'no data', rule: null, from: stored, to: stored, changed: false, reason, budget: null, memory, events: [] };
  }
  const budget = budgetPerHour(targets, inputs.costPerHourBaseline);
  const events = alerts(inputs, budget, targets, memory);
  const done = (c: Omit<Check, 'time' | 'inputs' | 'memory' | 'events' | 'budget'>): Check => ({ time, inputs, budget, memory, events, ...c });
  if (!ctx.running) return done({ outcome: 'hold', rule: null, from: stored, to: stored, changed: false, reason: stopped });
  if (inForce.source === 'pin') return done({ outcome: 'pinned', rule: null, from: stored, to: stored, changed: false, reason: pinned });

  if (inForce.source === 'schedule' || inForce.source === 'fleet pin') {
    // Only the emergency guard is above the schedule and a fleet pin.
    const whose = inForce.source === 'schedule' ? "the schedule's" : "the fleet pin's";
    if (inputs.costPerHour > 2 * budget) {
      const reason = `cost ${usd(inputs.costPerHour)} above 2 x budget ${usd(budget)} under ${whose} ${inForce.profile}: emergency guard`;
      const d = decide(inputs, { ...memory.loop, profile: inForce.profile }, time, targets, ladder);
      memory = { ...memory, guard: true, loop: { ...d.state, profile: 'emergency' } };
      return done({ outcome: 'emergency', rule: 'emergency', from: stored, to: 'emergency', changed: stored !== 'emergency', reason });
    }
    return done({ outcome: 'schedule', rule: null, from: stored, to: stored, changed: false, reason: `${whose} ${inForce.profile} is in force; within 2 x budget ${usd(budget)} (cost ${usd(inputs.costPerHour)})` });
  }

  const d: LoopDecision = decide(inputs, memory.loop, time, targets, ladder);
  memory = { ...memory, loop: d.state };
  if (d.rule === 'emergency' && d.to === 'emergency') memory.guard = true;
  else if (d.changed && memory.guard) {
    // The loop steps out of emergency. Under a schedule that lifts the guard and brings the
    // schedule's profile back: only when that profile would stay within twice the budget, else the
    // guard would fire again at the next check.
    const back = ctx.scheduled ? inputs.predicted?.[ctx.scheduled] : undefined;
    if (back && (back.costPerHour > 2 * HEADROOM * budget || back.costPerHourMax > 2 * budget)) {
      memory = { ...memory, loop: previous.loop };
      const reason = `${d.reason}; but the schedule's ${ctx.scheduled} would cost ${usd(back.costPerHour)} (up to ${usd(back.costPerHourMax)}), too close to 2 x budget ${usd(budget)} (shadow): the emergency guard stays`;
      return done({ outcome: 'hold', rule: 'emergency', from: stored, to: stored, changed: false, reason });
    }
    memory.guard = false;
    if (ctx.scheduled) {
      const reason = `${d.reason}; the emergency guard is lifted: the schedule's ${ctx.scheduled} is back`;
      return done({ outcome: 'step', rule: d.rule, from: d.from, to: d.to, changed: true, reason });
    }
  }
  const outcome: CheckOutcome = d.changed ? (d.rule === 'emergency' ? 'emergency' : 'step') : d.reason.startsWith('frozen') ? 'frozen' : 'hold';
  return done({ outcome, rule: d.rule, from: d.from, to: d.to, changed: d.changed, reason: d.reason });
}

/** Budget, series and coverage alerts: raised when a condition begins, and again only after it cleared. */
function alerts(inputs: CheckInputs, budget: number, t: LoopTargets, memory: ControlMemory): Check['events'] {
  const events: Check['events'] = [];
  const edge = (key: keyof ControlMemory['alerting'], on: boolean, event: CheckEvent, details: () => Record<string, unknown>): void => {
    if (on && !memory.alerting[key]) events.push({ event, details: details() });
    memory.alerting[key] = on;
  };
  const common = { profile: inputs.profile, intervals: inputs.intervals };
  edge('budget', inputs.costPerHour > budget, 'budget_exceeded', () => ({
    ...common,
    cost_per_hour: inputs.costPerHour,
    budget_per_hour: budget,
    budget_kind: t.maxCostPerHour === null ? `relative (target_reduction ${t.targetReduction})` : 'absolute (max_cost_per_hour)',
    cost_per_hour_baseline: inputs.costPerHourBaseline,
  }));
  edge('series', inputs.series > t.maxSeries, 'series_exceeded', () => ({ ...common, series: inputs.series, max_series: t.maxSeries }));
  edge('critical', inputs.coverageCritical !== null && inputs.coverageCritical < 1, 'coverage_violation', () => ({ ...common, kind: 'critical', coverage_critical: inputs.coverageCritical, required: 1 }));
  edge('visibility', inputs.visibility < t.minVisibility, 'coverage_violation', () => ({ ...common, kind: 'visibility', visibility: inputs.visibility, min_visibility: t.minVisibility }));
  return events;
}
