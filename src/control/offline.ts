/**
 * The control loop over a recording (`nrdot-plus-ctl simulate --control`): the daemon's checks
 * (controller.ts), schedule and emergency guard, on the recording's own time, starting from the
 * configured profile. The shadow profiles (`advanced.shadow_profiles`) run on the same snapshots, as
 * in the daemon (a ProfileSet on the pipeline in force), so the loop can tell what a step toward visibility would cost. Nothing is stored: the timeline of
 * changes, the checks and a summary come back.
 */
import type { Config } from '../config/index.js';
import { emptyState, Pipeline, ProfileSet, type Batch, type Kpis, type PipelineState } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';
import { kpiRecord, type KpiRecord } from '../store/index.js';
import { check, checkDue, initialMemory, loopTargets, SHADOW_WINDOW_SECONDS, type Check, type ControlMemory, type CheckEvent, type InForceSource } from './controller.js';
import { budgetPerHour } from './loop.js';
import { ruleAt } from './schedule.js';

/** One change of the profile in force. */
export interface TimelineEntry {
  time: number;
  from: string;
  to: string;
  /** Who made it: the control loop, the emergency guard, or the schedule. */
  who: 'control loop' | 'emergency guard' | 'schedule';
  reason: string;
}

export interface ControlRun {
  start: number;
  end: number;
  intervals: number;
  /** The profile the run started from (the configuration's state.active_profile). */
  initial: string;
  budget: { kind: 'absolute'; per_hour: number } | { kind: 'relative'; target_reduction: number };
  /** Intervals whose optimized cost was within that interval's budget. */
  within_budget: number;
  profiles: Record<string, number>;
  changes: number;
  timeline: TimelineEntry[];
  checks: number;
  outcomes: Record<string, number>;
  alerts: Partial<Record<CheckEvent, number>>;
  cost_per_hour_mean: number;
  cost_per_hour_baseline_mean: number;
  budget_per_hour_mean: number;
  cost_per_hour_max: number;
  datapoints_baseline: number;
  datapoints_exported: number;
  coverage_critical_min: number | null;
  visibility_mean: number;
  visibility_min: number;
}

export interface OfflineOptions {
  /** Each interval's batch (the export of the profile in force, with its self-metrics). */
  onBatch?: (batch: Batch, kpis: Kpis) => void | Promise<void>;
}

export async function runControlOffline(config: Config, snapshots: AsyncIterable<Snapshot>, opts: OfflineOptions = {}): Promise<ControlRun> {
  const targets = loopTargets(config);
  let stored = config.state.active_profile;
  let memory: ControlMemory | null = null;
  let inForce = stored;
  let pipeline = new Pipeline(config, inForce);
  let state: PipelineState = emptyState();
  // The daemon's shadow profiles: the configured ones, on what the pipeline in force observed.
  const shadows = new ProfileSet(config, config.advanced.shadow_profiles);
  let rows: KpiRecord[] = [];
  /** Shadow KPIs of the last SHADOW_WINDOW_SECONDS. */
  let shadowRows: KpiRecord[] = [];
  let scheduleRule: string | null = null;
  let lastSource: InForceSource = 'state store';
  let lastCheck: Check | null = null;
  const run: ControlRun = {
    start: NaN,
    end: NaN,
    intervals: 0,
    initial: stored,
    budget: targets.maxCostPerHour === null ? { kind: 'relative', target_reduction: targets.targetReduction } : { kind: 'absolute', per_hour: targets.maxCostPerHour },
    within_budget: 0,
    profiles: {},
    changes: 0,
    timeline: [],
    checks: 0,
    outcomes: {},
    alerts: {},
    cost_per_hour_mean: 0,
    cost_per_hour_baseline_mean: 0,
    budget_per_hour_mean: 0,
    cost_per_hour_max: 0,
    datapoints_baseline: 0,
    datapoints_exported: 0,
    coverage_critical_min: null,
    visibility_mean: 0,
    visibility_min: Infinity,
  };
  let visibilitySum = 0;
  let costSum = 0;
  let baselineSum = 0;
  let budgetSum = 0;

  for await (const snapshot of snapshots) {
    const now = snapshot.timestamp;
    if (run.intervals === 0) run.start = now;
    run.end = now;
    // The profile in force: the emergency guard > the schedule > the loop's (stored) profile.
    const rule = ruleAt(config.advanced.time_based_rules, new Date(now * 1000));
    const ruleName = rule && Object.hasOwn(config.profiles, rule.profile) ? rule.name : null;
    memory ??= initialMemory(stored, now);
    const source: InForceSource = memory.guard ? 'emergency guard' : ruleName ? 'schedule' : 'state store';
    const next = source === 'schedule' ? rule!.profile : stored;
    if (next !== inForce) {
      // Why the profile in force changed: the guard, a time rule beginning or ending, or the loop's step.
      const who: TimelineEntry['who'] = source === 'emergency guard' || lastSource === 'emergency guard' ? 'emergency guard' : ruleName !== scheduleRule ? 'schedule' : 'control loop';
      const reason =
        who === 'schedule'
          ? ruleName ? `schedule: rule "${rule!.name}" (${rule!.schedule}, ${rule!.timezone ?? 'UTC'}) began` : `schedule: rule "${scheduleRule}" ended`
          : (lastCheck?.reason ?? '');
      run.timeline.push({ time: now, from: inForce, to: next, who, reason });
      run.changes++;
      // As in the daemon, the pipeline state carries over to the new profile.
      inForce = next;
      pipeline = new Pipeline(config, inForce);
    }
    scheduleRule = ruleName;
    lastSource = source;

    const result = pipeline.run(snapshot, state, { decisions: false });
    state = result.state;
    const k = result.kpis;
    const record = kpiRecord(k);
    rows.push(record);
    shadowRows = shadowRows.filter((r) => r.time > now - SHADOW_WINDOW_SECONDS && r.time <= now);
    const shadowKpis = shadows.run(pipeline, { skip: inForce });
    // The first interval has no rates: nothing worth comparing (as in the daemon).
    if (pipeline.observed?.obs.intervalStart !== null) for (const s of shadowKpis) shadowRows.push(kpiRecord(s));
    if (opts.onBatch) await opts.onBatch(result.batch, k);

    run.intervals++;
    run.profiles[inForce] = (run.profiles[inForce] ?? 0) + 1;
    const budget = budgetPerHour(targets, k.cost_per_hour_baseline);
    if (k.cost_per_hour_optimized <= budget) run.within_budget++;
    costSum += k.cost_per_hour_optimized;
    baselineSum += k.cost_per_hour_baseline;
    budgetSum += budget;
    run.cost_per_hour_max = Math.max(run.cost_per_hour_max, k.cost_per_hour_optimized);
    run.datapoints_baseline += k.datapoints_baseline;
    run.datapoints_exported += k.datapoints_exported;
    if (k.coverage_critical !== null) run.coverage_critical_min = Math.min(run.coverage_critical_min ?? 1, k.coverage_critical);
    visibilitySum += k.visibility;
    run.visibility_min = Math.min(run.visibility_min, k.visibility);

    if (checkDue(memory.lastCheck, now, config.control_loop.check_interval)) {
      const c = check({ time: now, inForce: { profile: inForce, source }, stored, scheduled: ruleName ? rule!.profile : null, rows, shadows: shadowRows, running: true }, memory, targets);
      memory = c.memory;
      lastCheck = c;
      rows = [];
      run.checks++;
      run.outcomes[c.outcome] = (run.outcomes[c.outcome] ?? 0) + 1;
      for (const e of c.events) run.alerts[e.event] = (run.alerts[e.event] ?? 0) + 1;
      if (c.changed) stored = c.to;
    }
  }
  if (run.intervals > 0) {
    run.cost_per_hour_mean = costSum / run.intervals;
    run.cost_per_hour_baseline_mean = baselineSum / run.intervals;
    run.budget_per_hour_mean = budgetSum / run.intervals;
    run.visibility_mean = visibilitySum / run.intervals;
  } else {
    run.visibility_min = 0;
  }
  return run;
}
