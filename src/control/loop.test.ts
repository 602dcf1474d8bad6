import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANTI_THRASHING, decide, initialLoopState, type LoopDecision, type LoopInputs, type LoopState, type LoopTargets } from './loop.js';

const targets: LoopTargets = { maxCostPerHour: 1, targetReduction: 0.85, maxSeries: 2000, targetSeries: 1000, minVisibility: 0.75, ...ANTI_THRASHING };
const T0 = 1764115200;

/** Runs the loop every 30 s over a sequence of inputs; returns every decision. */
function run(inputs: LoopInputs[], profile = 'balanced', t: LoopTargets = targets, start: LoopState = initialLoopState(profile)): LoopDecision[] {
  let state = start;
  return inputs.map((k, i) => {
    const d = decide(k, state, T0 + i * 30, t);
    state = d.state;
    return d;
  });
}

const ok: LoopInputs = { costPerHour: 0.9, costPerHourBaseline: 10, series: 1500, visibility: 0.8 };
const repeat = (k: LoopInputs, n: number): LoopInputs[] => Array.from({ length: n }, () => k);
const profiles = (ds: LoopDecision[]): string[] => ds.filter((d) => d.changed).map((d) => `${d.from}>${d.to}`);

describe('control loop decision', () => {
  it('holds inside the budget', () => {
    const ds = run(repeat(ok, 40));
    assert.deepEqual(profiles(ds), []);
    assert.match(ds[0]!.reason, /within budget \$1\.00\/h/);
  });

  it('steps toward savings over budget, one step per dwell time', () => {
    const ds = run(repeat({ ...ok, costPerHour: 1.5 }, 30));
    assert.deepEqual(profiles(ds), ['balanced>aggressive', 'aggressive>minimal', 'minimal>emergency']);
    const at = ds.map((d, i) => (d.changed ? i * 30 : null)).filter((x) => x !== null);
    assert.deepEqual(at, [0, 300, 600], 'never faster than the 300 s dwell');
    assert.match(ds[1]!.reason, /cost \$1\.50\/h above budget \$1\.00\/h; waiting: 30 s of the 300 s dwell in aggressive/);
    assert.match(ds.at(-1)!.reason, /already at emergency/);
  });

  it('goes straight to emergency above twice the budget, even inside the dwell', () => {
    const ds = run([{ ...ok, costPerHour: 1.5 }, { ...ok, costPerHour: 2.5 }]);
    assert.deepEqual(profiles(ds), ['balanced>aggressive', 'aggressive>emergency']);
    assert.equal(ds[1]!.rule, 'emergency');
  });

  it('takes the relative budget from the baseline when no absolute one is set', () => {
    const relative = { ...targets, maxCostPerHour: null };
    const [d] = run([{ ...ok, costPerHour: 1.6, costPerHourBaseline: 10 }], 'balanced', relative);
    assert.ok(Math.abs(d!.budget - 1.5) < 1e-9, 'at most 15% of the baseline');
    assert.equal(d!.to, 'aggressive');
  });

  it('puts the budget before visibility, and series above max count like the budget', () => {
    const [both] = run([{ ...ok, costPerHour: 1.2, visibility: 0.5 }]);
    assert.equal(both!.to, 'aggressive');
    assert.equal(both!.rule, 'budget');
    const [series] = run([{ ...ok, series: 2500 }]);
    assert.equal(series!.rule, 'series');
    assert.equal(series!.to, 'aggressive');
  });

  it('steps toward visibility when it is too low and the budget allows', () => {
    const ds = run(repeat({ ...ok, visibility: 0.6 }, 25), 'minimal');
    assert.deepEqual(profiles(ds), ['minimal>aggressive', 'aggressive>balanced', 'balanced>conservative']);
    assert.match(ds.at(-1)!.reason, /visibility 60\.0% is below 75\.0%, but no profile reaches it on this host \(best: conservative 60\.0%\)$/);
  });

  it('steps toward visibility only to a profile whose shadow meets the minimum, and holds when none does', () => {
    const shown = (balanced: number, conservative: number): LoopInputs => ({
      ...ok,
      visibility: 0.3,
      predicted: {
        balanced: { costPerHour: 0.5, costPerHourMax: 0.5, series: 900, visibility: balanced },
        conservative: { costPerHour: 0.6, costPerHourMax: 0.6, series: 950, visibility: conservative },
      },
    });
    // No profile reaches 75% on this host: aggressive stays, and every check says why, as a plain hold.
    const held = run(repeat(shown(0.4, 0.5), 40), 'aggressive');
    assert.deepEqual(profiles(held), []);
    assert.ok(held.every((d) => d.rule === 'hold'), 'not a visibility hold at every check');
    assert.match(held[0]!.reason, /^within budget \$1\.00\/h .*; visibility 30\.0% is below 75\.0%, but no profile reaches it on this host \(best: conservative 50\.0%, shadow\)$/);
    assert.deepEqual(held.at(-1)!.state.visibilityOutOfReach, { best: 'conservative', visibility: 0.5 });
    // Conservative reaches it: one step at a time toward it, through balanced.
    const ds = run(repeat(shown(0.5, 0.8), 25), 'aggressive');
    assert.deepEqual(profiles(ds), ['aggressive>balanced', 'balanced>conservative']);
    assert.equal(ds[0]!.state.visibilityOutOfReach, null);
  });

  it('gives visibility back only after a full dwell of low series and cost', () => {
    const calm: LoopInputs = { ...ok, costPerHour: 0.5, series: 600 };
    const ds = run([...repeat(calm, 9), ok, ...repeat(calm, 12)], 'aggressive');
    // 9 calm checks (240 s) are not enough; the interruption restarts the count; 300 s later it steps.
    assert.deepEqual(ds.map((d, i) => (d.changed ? i : null)).filter((x) => x !== null), [20]);
    assert.equal(ds[20]!.to, 'balanced');
    assert.equal(ds[20]!.rule, 'relax');
  });

  it('freezes after more than 3 changes in 10 minutes, whatever the KPIs say', () => {
    const quick = { ...targets, dwellSeconds: 30 };
    const swing = [1.5, 1.5, 1.5, 0.9].map((c) => ({ ...ok, costPerHour: c, visibility: c < 1 ? 0.5 : 0.8 }));
    // Over budget three times (three steps), then low visibility: the fourth change freezes the loop.
    const ds = run([...swing, ...repeat({ ...ok, visibility: 0.5 }, 12)], 'conservative', quick);
    assert.deepEqual(profiles(ds.slice(0, 4)), ['conservative>balanced', 'balanced>aggressive', 'aggressive>minimal', 'minimal>aggressive']);
    assert.match(ds[3]!.reason, /4 changes in 10 min: frozen for 300 s/);
    const frozen = ds.slice(4, 13);
    assert.ok(frozen.every((d) => !d.changed && /frozen until/.test(d.reason)), 'no change for 300 s');
    assert.equal(ds[13]!.to, 'balanced', 'thawed 300 s after the fourth change');
  });

  it('does not thrash on a cost that oscillates around the budget', () => {
    const ds = run(Array.from({ length: 120 }, (_, i) => ({ ...ok, costPerHour: i % 2 ? 1.05 : 0.95 })));
    const changes = profiles(ds).length;
    assert.ok(changes <= 3, `${changes} changes in an hour`);
  });

  it('survives a clock that jumps back or forward', () => {
    const after = decide({ ...ok, costPerHour: 1.5 }, initialLoopState('balanced'), T0, targets);
    assert.equal(after.to, 'aggressive');
    // An hour back: the dwell restarts from now, it does not last an hour.
    const back = decide({ ...ok, costPerHour: 1.5 }, after.state, T0 - 3600, targets);
    assert.equal(back.changed, false);
    assert.equal(back.state.lastChange, T0 - 3600);
    const later = decide({ ...ok, costPerHour: 1.5 }, back.state, T0 - 3600 + 300, targets);
    assert.equal(later.to, 'minimal');
    // A day forward: one step, not a burst.
    const jump = decide({ ...ok, costPerHour: 1.5 }, later.state, T0 + 86400, targets);
    assert.equal(jump.to, 'emergency');
    assert.equal(jump.state.changes.length, 1, 'old changes leave the freeze window');
  });

  it('holds on a profile that is not on the ladder, except in an emergency', () => {
    const [custom] = run([{ ...ok, costPerHour: 1.5 }], 'nightly-batch');
    assert.equal(custom!.changed, false);
    assert.match(custom!.reason, /not on the loop's ladder/);
    const [emergency] = run([{ ...ok, costPerHour: 3 }], 'nightly-batch');
    assert.equal(emergency!.to, 'emergency');
  });

  it('does not step toward visibility into a profile its shadow says would not fit the budget', () => {
    const low: LoopInputs = { ...ok, costPerHour: 0.6, visibility: 0.4 };
    // Balanced would cost 0.95: within the budget, but without headroom; it would bounce straight back.
    const priced = (balanced: number): LoopInputs => ({ ...low, predicted: { balanced: { costPerHour: balanced, costPerHourMax: balanced, series: 900 } } });
    const held = run(repeat(priced(0.95), 20), 'aggressive');
    assert.deepEqual(profiles(held), []);
    assert.match(held[0]!.reason, /visibility 40\.0% below 75\.0%, but balanced would cost \$0\.950\/h, above 90% of budget \$1\.00\/h \(shadow\): the budget wins/);
    // With room to spare it steps at once; unknown (no shadows) it steps as SPEC says.
    assert.deepEqual(profiles(run([priced(0.7)], 'aggressive')), ['aggressive>balanced']);
    assert.deepEqual(profiles(run([low], 'aggressive')), ['aggressive>balanced']);
    // The calm rule asks the same, and the series limit too.
    const calm: LoopInputs = { ...ok, costPerHour: 0.5, series: 600, predicted: { balanced: { costPerHour: 0.7, costPerHourMax: 0.7, series: 2500 } } };
    const ds = run(repeat(calm, 20), 'aggressive');
    assert.deepEqual(profiles(ds), []);
    assert.match(ds.at(-1)!.reason, /balanced would export 2500 series, above max 2000 \(shadow\)/);
  });

  it('backs off after a bounce: each step toward visibility undone soon after doubles the wait', () => {
    const low: LoopInputs = { ...ok, costPerHour: 0.6, visibility: 0.4 };
    const over: LoopInputs = { ...ok, costPerHour: 1.2, visibility: 0.9 };
    // Minimal shows too little: up to aggressive, which is over budget: back to minimal, and so on.
    const seq = Array.from({ length: 240 }, (_, i) => (i % 20 < 10 ? low : over));
    const ds = run(seq, 'minimal', { ...targets, freezeChanges: 100 });
    const ups = ds.map((d, i) => (d.changed && d.rule === 'visibility' ? i * 30 : null)).filter((x): x is number => x !== null);
    const gaps = ups.slice(1).map((t, k) => t - ups[k]!);
    assert.ok(gaps.length >= 2, JSON.stringify(ups));
    assert.ok(gaps.every((g, k) => k === 0 || g >= gaps[k - 1]!), `the waits grow: ${gaps.join(', ')}`);
    assert.match(ds.find((d) => /bounce 2 in a row/.test(d.reason))!.reason, /no step toward visibility for 20 min/);
    assert.ok(ds.some((d) => /after 2 bounce\(s\), no step toward visibility until/.test(d.reason)));
    // Without the backoff, the same sequence would change the profile every 5-10 minutes.
    assert.ok(profiles(ds).length <= 12, `${profiles(ds).length} changes in 2 hours`);
  });
});
