/**
 * The control loop's decision (SPEC, "Control loop"), as a pure function: KPIs, the loop's state and
 * the time in; the decision, its reason and the next state out. The daemon (and `simulate --control`)
 * call it every check_interval; pins and schedules take precedence outside it.
 *
 * Rules, first match wins:
 * 1. cost above 2 x budget: straight to `emergency`, ignoring dwell time and the freeze;
 * 2. cost above budget, or series above max: one step toward savings (the budget wins over visibility);
 * 3. visibility below minimum: one step toward visibility;
 * 4. series below target and cost below 80% of budget, for a full dwell time: one step toward visibility.
 * Anti-thrashing: a minimum dwell per profile; more than `freezeChanges` changes within
 * `freezeWindowSeconds` freezes the loop for `freezeSeconds`; and when shadow profiles tell what the
 * next profile toward visibility would cost (`inputs.predicted`), rules 3 and 4 only step to it when
 * it fits the budget with HEADROOM and the series limit.
 */

/** The built-in profiles from most visibility to most savings. */
export const LADDER = ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency'] as const;

export interface LoopTargets {
  /** Absolute budget (USD per hour); null: relative, (1 - targetReduction) x the baseline's cost. */
  maxCostPerHour: number | null;
  targetReduction: number;
  maxSeries: number;
  targetSeries: number;
  minVisibility: number;
  dwellSeconds: number;
  freezeChanges: number;
  freezeWindowSeconds: number;
  freezeSeconds: number;
}

/**
 * A step toward visibility that shadow profiles price is only taken when the profile it leads to would
 * have cost, over the shadows' window (an hour), at most this share of the budget on average and never more
 * than the budget in any interval: a profile that only just fits, or fits on average but not in its
 * bursts, goes over with the next wobble, and the loop would bounce between two profiles.
 */
export const HEADROOM = 0.9;

/** SPEC defaults: dwell 300 s; more than 3 changes in 10 minutes freezes for 300 s. */
export const ANTI_THRASHING = { dwellSeconds: 300, freezeChanges: 3, freezeWindowSeconds: 600, freezeSeconds: 300 } as const;

export interface LoopInputs {
  costPerHour: number;
  costPerHourBaseline: number;
  series: number;
  visibility: number;
  /**
   * What other profiles would cost on the same processes (shadow profiles), when known. A step
   * toward visibility is only taken when the profile it leads to fits the budget and the series
   * limit: the budget wins over visibility, and a step that would bounce back is thrashing.
   */
  predicted?: Readonly<Record<string, Prediction>>;
}

/** What a shadow profile cost and exported over the shadows' window. */
export interface Prediction {
  /** Mean cost per hour. */
  costPerHour: number;
  /** The costliest interval's cost per hour. */
  costPerHourMax: number;
  /** The most series one interval exported. */
  series: number;
  /** Mean visibility (the smaller of the CPU and memory shares in individual series); absent in older records. */
  visibility?: number;
}

export interface LoopState {
  profile: string;
  /** When the profile last changed (unix seconds), or null. */
  lastChange: number | null;
  /** Times of the changes inside the freeze window. */
  changes: number[];
  frozenUntil: number | null;
  /** Since when series and cost have been low enough to give visibility back, or null. */
  calmSince: number | null;
  /** The latest step toward visibility (to tell a bounce: a step back toward savings soon after). */
  relaxed?: { to: string; time: number } | null;
  /** Bounces in a row; each doubles the wait before the next step toward visibility. */
  bounces?: number;
  /** No step toward visibility before this time (unix seconds), after a bounce. */
  relaxNotBefore?: number | null;
  /**
   * Visibility is below the minimum and no profile toward visibility reaches it on this host, by the
   * shadow profiles: the best of them and its visibility. The visibility rule holds while it lasts.
   */
  visibilityOutOfReach?: { best: string; visibility: number } | null;
}

/**
 * A step toward visibility undone by a step toward savings within this time is a bounce: the next
 * step toward visibility waits dwell x 2^bounces (10 min, 20 min, ... at most BACKOFF_MAX_SECONDS).
 * A step toward visibility that holds this long ends the series of bounces.
 */
export const BOUNCE_SECONDS = 3600;
export const BACKOFF_MAX_SECONDS = 6 * 3600;

export type LoopRule = 'emergency' | 'budget' | 'series' | 'visibility' | 'relax' | 'hold';

export interface LoopDecision {
  from: string;
  to: string;
  changed: boolean;
  rule: LoopRule;
  reason: string;
  budget: number;
  state: LoopState;
}

export function initialLoopState(profile: string): LoopState {
  return { profile, lastChange: null, changes: [], frozenUntil: null, calmSince: null };
}

/** Dollars per hour with 3 significant digits at least: a small host's budget is fractions of a cent. */
export const usd = (v: number): string => `$${v >= 1 ? v.toFixed(2) : v.toPrecision(3)}/h`;

/** The budget per hour: the absolute one, else (1 - target_reduction) x the baseline's cost. */
export function budgetPerHour(t: Pick<LoopTargets, 'maxCostPerHour' | 'targetReduction'>, costPerHourBaseline: number): number {
  return t.maxCostPerHour ?? (1 - t.targetReduction) * costPerHourBaseline;
}

/** One evaluation. `now` is unix seconds (a recording's own time offline). */
export function decide(inputs: LoopInputs, previous: LoopState, now: number, t: LoopTargets, ladder: readonly string[] = LADDER): LoopDecision {
  const budget = budgetPerHour(t, inputs.costPerHourBaseline);
  const state: LoopState = { ...previous, changes: previous.changes.filter((c) => c > now - t.freezeWindowSeconds && c <= now) };
  if (state.relaxed && now - state.relaxed.time > BOUNCE_SECONDS) {
    state.relaxed = null;
    state.bounces = 0;
  }
  if (state.relaxNotBefore != null && state.relaxNotBefore - now > BACKOFF_MAX_SECONDS) state.relaxNotBefore = now + BACKOFF_MAX_SECONDS;
  if (state.relaxed && state.relaxed.time > now) state.relaxed = { ...state.relaxed, time: now };
  if (state.calmSince !== null && state.calmSince > now) state.calmSince = now;
  // A clock that went back: the dwell starts again from now rather than lasting until the old time.
  if (state.lastChange !== null && state.lastChange > now) state.lastChange = now;
  if (state.frozenUntil !== null && state.frozenUntil - now > t.freezeSeconds) state.frozenUntil = now + t.freezeSeconds;
  const from = state.profile;
  const hold = (rule: LoopRule, reason: string): LoopDecision => ({ from, to: from, changed: false, rule, reason, budget, state });
  const change = (to: string, rule: LoopRule, reason: string): LoopDecision => {
    const changes = [...state.changes, now];
    const frozen = changes.length > t.freezeChanges ? now + t.freezeSeconds : state.frozenUntil;
    const freezeNote = frozen !== state.frozenUntil ? `; ${changes.length} changes in ${t.freezeWindowSeconds / 60} min: frozen for ${t.freezeSeconds} s` : '';
    const next: LoopState = { ...state, profile: to, lastChange: now, changes, frozenUntil: frozen, calmSince: null };
    let bounceNote = '';
    if (rule === 'visibility' || rule === 'relax') {
      next.relaxed = { to, time: now };
    } else if (state.relaxed?.to === from) {
      // Back toward savings from the profile a step toward visibility chose: a bounce.
      const bounces = (state.bounces ?? 0) + 1;
      const wait = Math.min(BACKOFF_MAX_SECONDS, t.dwellSeconds * 2 ** bounces);
      Object.assign(next, { relaxed: null, bounces, relaxNotBefore: now + wait });
      bounceNote = `; bounce ${bounces} in a row: no step toward visibility for ${Math.round(wait / 60)} min`;
    }
    return { from, to, changed: true, rule, reason: reason + freezeNote + bounceNote, budget, state: next };
  };

  if (inputs.costPerHour > 2 * budget && budget >= 0) {
    if (from === 'emergency') return hold('emergency', `cost ${usd(inputs.costPerHour)} above 2 x budget ${usd(budget)}, already in emergency`);
    return change('emergency', 'emergency', `cost ${usd(inputs.costPerHour)} above 2 x budget ${usd(budget)}`);
  }
  if (state.frozenUntil !== null && now < state.frozenUntil) return hold('hold', `frozen until ${new Date(state.frozenUntil * 1000).toISOString()} after too many changes`);
  state.frozenUntil = null;
  const step = ladder.indexOf(from);
  if (step < 0) return hold('hold', `profile ${from} is not on the loop's ladder (${ladder.join(' > ')})`);
  const dwelt = state.lastChange === null ? Infinity : now - state.lastChange;
  const inDwell = dwelt < t.dwellSeconds;
  const dwellNote = `${Math.round(dwelt)} s of the ${t.dwellSeconds} s dwell in ${from}`;

  const overBudget = inputs.costPerHour > budget;
  const overSeries = inputs.series > t.maxSeries;
  if (overBudget || overSeries) {
    state.calmSince = null;
    const why = overBudget ? `cost ${usd(inputs.costPerHour)} above budget ${usd(budget)}` : `${inputs.series} series above max ${t.maxSeries}`;
    const rule = overBudget ? 'budget' : 'series';
    if (step === ladder.length - 1) return hold(rule, `${why}, already at ${from}`);
    if (inDwell) return hold(rule, `${why}; waiting: ${dwellNote}`);
    return change(ladder[step + 1]!, rule, `${why}: one step toward savings`);
  }
  /** Why the profile one step toward visibility would not fit, by its shadow KPIs; null when it fits or is unknown. */
  const wouldNotFit = (): string | null => {
    const next = ladder[step - 1]!;
    const p = inputs.predicted?.[next];
    if (p === undefined) return null;
    if (p.costPerHour > HEADROOM * budget) return `${next} would cost ${usd(p.costPerHour)}, above ${HEADROOM * 100}% of budget ${usd(budget)} (shadow)`;
    if (p.costPerHourMax > budget) return `${next} would have gone over budget ${usd(budget)}, up to ${usd(p.costPerHourMax)} (shadow)`;
    if (p.series > t.maxSeries) return `${next} would export ${p.series} series, above max ${t.maxSeries} (shadow)`;
    return null;
  };
  /**
   * The best profile toward visibility (up the ladder) by its shadow's visibility, and whether it
   * meets the minimum; null when one of them is not measured (no shadows: the SPEC rule alone).
   */
  const reachable = (): { ok: boolean; best: string; visibility: number } | null => {
    let best: { ok: boolean; best: string; visibility: number } | null = null;
    for (const name of ladder.slice(0, step)) {
      const v = inputs.predicted?.[name]?.visibility;
      if (v === undefined) return null;
      if (best === null || v > best.visibility) best = { ok: v >= t.minVisibility, best: name, visibility: v };
    }
    return best;
  };
  const backingOff = state.relaxNotBefore != null && now < state.relaxNotBefore ? `after ${state.bounces} bounce(s), no step toward visibility until ${new Date(state.relaxNotBefore * 1000).toISOString()}` : null;
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  // The visibility rule steps only toward a profile that meets the minimum: when none does here, it
  // holds and says so once (`visibilityOutOfReach`); the other rules go on.
  const reach = inputs.visibility < t.minVisibility ? (step === 0 ? { ok: false, best: from, visibility: inputs.visibility } : reachable()) : null;
  state.visibilityOutOfReach = reach && !reach.ok ? { best: reach.best, visibility: reach.visibility } : null;
  const outOfReach = state.visibilityOutOfReach
    ? `; visibility ${pct(inputs.visibility)} is below ${pct(t.minVisibility)}, but no profile reaches it on this host (best: ${state.visibilityOutOfReach.best} ${pct(state.visibilityOutOfReach.visibility)}${step === 0 ? '' : ', shadow'})`
    : '';
  if (inputs.visibility < t.minVisibility && !state.visibilityOutOfReach) {
    state.calmSince = null;
    const why = `visibility ${pct(inputs.visibility)} below ${pct(t.minVisibility)}`;
    const unfit = wouldNotFit();
    if (unfit) return hold('visibility', `${why}, but ${unfit}: the budget wins`);
    if (backingOff) return hold('visibility', `${why}; ${backingOff}`);
    if (inDwell) return hold('visibility', `${why}; waiting: ${dwellNote}`);
    return change(ladder[step - 1]!, 'visibility', `${why}: one step toward visibility`);
  }
  if (inputs.series < t.targetSeries && inputs.costPerHour < 0.8 * budget) {
    state.calmSince ??= now;
    const calm = now - state.calmSince;
    const why = `${inputs.series} series below target ${t.targetSeries} and cost ${usd(inputs.costPerHour)} below 80% of budget ${usd(budget)}`;
    if (step === 0) return hold('relax', `${why}, already at ${from}${outOfReach}`);
    const unfit = wouldNotFit();
    if (unfit) return hold('relax', `${why}, but ${unfit}${outOfReach}`);
    if (backingOff) return hold('relax', `${why}; ${backingOff}${outOfReach}`);
    if (calm < t.dwellSeconds || inDwell) return hold('relax', `${why} for ${Math.round(calm)} s; giving visibility back after ${t.dwellSeconds} s${outOfReach}`);
    return change(ladder[step - 1]!, 'relax', `${why} for ${Math.round(calm)} s: one step toward visibility${outOfReach}`);
  }
  state.calmSince = null;
  return hold('hold', `within budget ${usd(budget)} (cost ${usd(inputs.costPerHour)}, ${inputs.series} series, visibility ${pct(inputs.visibility)})${outOfReach}`);
}
