import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCEPT_AFTER_SECONDS, DataClock } from './data-clock.js';

describe('DataClock', () => {
  it('takes a wall clock that stays ahead as the time after ACCEPT_AFTER_SECONDS, with only the monotonic time as elapsed', () => {
    let mono = 0;
    const clock = new DataClock(() => mono);
    const start = 1_800_000_000;
    assert.deepEqual(clock.check(start), { keep: true, elapsed: undefined });
    const step = 10 * 86_400;
    const verdicts = [];
    for (mono = 10; mono <= ACCEPT_AFTER_SECONDS + 10; mono += 10) verdicts.push(clock.check(start + step + mono));
    const kept = verdicts.filter((v) => v.keep);
    assert.equal(kept.length, 1, 'refused until the clock had stayed ahead for the whole bound');
    assert.equal(clock.refused, verdicts.length - 1);
    assert.deepEqual(kept[0], { keep: true, elapsed: ACCEPT_AFTER_SECONDS + 10, accepted: { ahead: step } });
    assert.deepEqual(clock.check(start + step + mono), { keep: true, elapsed: 10 }, 'the new time is the reference from then on');
  });
});
