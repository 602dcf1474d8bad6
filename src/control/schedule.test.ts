import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeAt, parseSchedule, ruleAt, ScheduleError, validTimezone, wallClock } from './schedule.js';

const utc = (iso: string): Date => new Date(`${iso}Z`);
const on = (schedule: string, iso: string, tz = 'UTC'): boolean => activeAt(parseSchedule(schedule), wallClock(utc(iso), tz));

describe('schedules', () => {
  it('reads the roadmap\'s forms', () => {
    // 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
    assert.equal(on('Mon-Fri 08:00-18:00', '2026-11-30T07:30:00', 'Europe/Berlin'), true);
    assert.equal(on('Mon-Fri 08:00-18:00', '2026-11-30T06:59:00', 'Europe/Berlin'), false);
    assert.equal(on('Mon-Fri 08:00-18:00', '2026-11-30T17:00:00', 'Europe/Berlin'), false, '18:00 is the end, excluded');
    assert.equal(on('Mon-Fri 08:00-18:00', '2026-12-05T10:00:00', 'Europe/Berlin'), false, 'Saturday');
    assert.equal(on('Sat-Sun', '2026-12-05T00:00:00'), true);
    assert.equal(on('Sat-Sun', '2026-12-06T23:59:00'), true);
    assert.equal(on('Sat-Sun', '2026-12-07T00:00:00'), false);
    assert.equal(on('Sun 02:00-06:00', '2026-12-06T03:00:00'), true);
    assert.equal(on('Sun 02:00-06:00', '2026-12-07T03:00:00'), false);
    assert.equal(on('09:00-11:00,14:00-16:00', '2026-12-02T10:59:00'), true);
    assert.equal(on('09:00-11:00,14:00-16:00', '2026-12-02T12:00:00'), false);
    assert.equal(on('09:00-11:00,14:00-16:00', '2026-12-05T15:00:00'), true, 'every day');
    assert.equal(on('Mon,Wed,Fri 00:00-24:00', '2026-12-02T23:59:00'), true);
    assert.equal(on('Fri-Mon', '2026-12-07T12:00:00'), true, 'a range of days wraps over the week end');
  });

  it('gives a window that crosses midnight to the day it starts on', () => {
    const after = 'Mon-Fri 18:00-08:00';
    assert.equal(on(after, '2026-12-04T22:00:00'), true, 'Friday evening');
    assert.equal(on(after, '2026-12-05T07:59:00'), true, 'Saturday morning: Friday\'s night');
    assert.equal(on(after, '2026-12-05T08:00:00'), false);
    assert.equal(on(after, '2026-11-30T07:00:00'), false, 'Monday morning: Sunday has no night');
    assert.equal(on(after, '2026-12-01T07:00:00'), true, 'Tuesday morning: Monday\'s night');
  });

  it('follows the wall clock across daylight-saving changes', () => {
    const sunday = 'Sun 02:00-06:00';
    // 2026-03-29, Berlin: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    assert.equal(on(sunday, '2026-03-29T00:59:00', 'Europe/Berlin'), false, '01:59 CET');
    assert.equal(on(sunday, '2026-03-29T01:00:00', 'Europe/Berlin'), true, '03:00 CEST: the window starts at the first existing minute');
    assert.equal(on(sunday, '2026-03-29T03:59:00', 'Europe/Berlin'), true, '05:59 CEST');
    assert.equal(on(sunday, '2026-03-29T04:00:00', 'Europe/Berlin'), false, '06:00 CEST: three hours of real time');
    // 2026-10-25, Berlin: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-03:00 happens twice.
    assert.equal(on(sunday, '2026-10-24T23:59:00', 'Europe/Berlin'), false, '01:59 CEST');
    assert.equal(on(sunday, '2026-10-25T00:00:00', 'Europe/Berlin'), true, '02:00 CEST');
    assert.equal(on(sunday, '2026-10-25T01:30:00', 'Europe/Berlin'), true, '02:30 CET, the second time');
    assert.equal(on(sunday, '2026-10-25T04:59:00', 'Europe/Berlin'), true, '05:59 CET');
    assert.equal(on(sunday, '2026-10-25T05:00:00', 'Europe/Berlin'), false, '06:00 CET: five hours of real time');
    // The day boundary is the timezone's: Monday 00:30 in New York is Monday 05:30 UTC.
    assert.equal(on('Mon 00:00-01:00', '2026-11-30T05:30:00', 'America/New_York'), true);
    assert.equal(on('Mon 00:00-01:00', '2026-11-30T00:30:00', 'America/New_York'), false, 'still Sunday there');
  });

  it('resolves overlaps by the first matching rule, in the configuration\'s order', () => {
    const rules = [
      { name: 'maintenance', schedule: 'Sun 02:00-06:00', profile: 'aggressive' },
      { name: 'weekends', schedule: 'Sat-Sun', profile: 'minimal' },
      { name: 'business', schedule: 'Mon-Fri 08:00-18:00', profile: 'balanced', timezone: 'Europe/Berlin' },
    ];
    assert.equal(ruleAt(rules, utc('2026-12-06T03:00:00'))?.name, 'maintenance');
    assert.equal(ruleAt(rules, utc('2026-12-06T07:00:00'))?.name, 'weekends');
    assert.equal(ruleAt(rules, utc('2026-12-02T09:00:00'))?.name, 'business');
    assert.equal(ruleAt(rules, utc('2026-12-02T20:00:00')), null);
  });

  it('says what is wrong with a schedule', () => {
    const bad: Array<[string, RegExp]> = [
      ['Mon-Fry 08:00-18:00', /"Fry" is not a day/],
      ['Mon-Fri 25:00-26:00', /25:00 is not a time of day/],
      ['08:00-08:00', /"08:00-08:00" is empty/],
      ['Mon 8-18', /"8-18" is not a time range such as 08:00-18:00/],
      ['08:00-18:00 Mon', /days come first/],
      ['', /expected days, times or both/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseSchedule(text), (e: Error) => e instanceof ScheduleError && message.test(e.message), text);
    assert.equal(validTimezone('Europe/Berlin'), true);
    assert.equal(validTimezone('Mars/Olympus'), false);
  });
});
