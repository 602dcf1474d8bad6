import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloneTracker } from './clones.js';

describe('CloneTracker', () => {
  it('sees no clone in one agent counting up, retrying, or restarting', () => {
    const t = new CloneTracker();
    let now = 1000;
    for (let seq = 1; seq <= 5; seq++) assert.equal(t.observe('u', seq, (now += 100), 10_000), false);
    assert.equal(t.observe('u', 5, (now += 10), 10_000), false, 'a retried message');
    // Restart: sequence back to 1, the old stream never continues.
    for (let seq = 1; seq <= 5; seq++) assert.equal(t.observe('u', seq, (now += 100), 10_000), false);
  });

  it('names the newcomer when two streams interleave', () => {
    const t = new CloneTracker();
    assert.equal(t.observe('u', 10, 1000, 10_000), false);
    assert.equal(t.observe('u', 11, 1100, 10_000), false);
    assert.equal(t.observe('u', 1, 1200, 10_000), false, 'a newcomer: could still be a restart');
    assert.equal(t.observe('u', 12, 1300, 10_000), false, 'the original continues: it keeps the UID');
    assert.equal(t.observe('u', 2, 1400, 10_000), true, 'the newcomer is the clone');
    assert.equal(t.observe('u', 13, 1500, 10_000), false);
  });

  it('does not call an old stream that went quiet a clone', () => {
    const t = new CloneTracker();
    t.observe('u', 10, 1000, 500);
    t.observe('u', 1, 5000, 500);
    assert.equal(t.observe('u', 11, 5100, 500), false, 'the latest stream is alive, but this one was quiet: a late message');
    assert.equal(t.observe('u', 2, 5200, 500), false, 'the restarted agent keeps its UID');
  });

  it('tells two agents counting in step apart (copies started together), but not one retrying now and then', () => {
    const t = new CloneTracker();
    let now = 1000;
    assert.equal(t.observe('u', 1, (now += 10), 10_000), false);
    assert.equal(t.observe('u', 1, (now += 10), 10_000), false, 'the copy\'s first message: could be a retry');
    assert.equal(t.observe('u', 2, (now += 990), 10_000), false);
    assert.equal(t.observe('u', 2, (now += 10), 10_000), false);
    assert.equal(t.observe('u', 3, (now += 990), 10_000), false);
    assert.equal(t.observe('u', 3, (now += 10), 10_000), true, 'a third number in a row seen twice: the sender of the repeat is a clone');
    for (let seq = 4; seq <= 8; seq++) assert.equal(t.observe('u', seq, (now += 1000), 10_000), false, 'the original goes on');
    // One agent whose replies are lost now and then: a number twice, never three in a row.
    const r = new CloneTracker();
    for (const seq of [1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8, 9]) assert.equal(r.observe('v', seq, (now += 100), 10_000), false, `seq ${seq}`);
  });
});
