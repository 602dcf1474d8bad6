/**
 * Time schedules of `advanced.time_based_rules`, in the forms the roadmap uses: `Mon-Fri 08:00-18:00`,
 * `Sat-Sun`, `Sun 02:00-06:00`, `09:00-11:00,14:00-16:00`, `Mon-Fri 18:00-08:00`.
 *
 * - Days: a day (`Sun`), a range (`Mon-Fri`, wrapping: `Fri-Mon`) or a list (`Mon,Wed,Fri`); none
 *   means every day. Times: one or more `HH:MM-HH:MM` ranges, start included, end excluded (`24:00`
 *   is the end of the day); none means the whole day.
 * - A range that ends before it starts crosses midnight and belongs to the day it starts on:
 *   `Fri 22:00-06:00` is Friday 22:00 to Saturday 06:00.
 * - Times are wall-clock times in the rule's timezone (IANA name; default UTC). Across daylight-saving
 *   changes the wall clock decides: on the spring-forward night `Sun 02:00-06:00` starts at 03:00, and
 *   on the fall-back night the repeated hour is inside the window both times.
 * - Overlaps: the first rule in the configuration's order that matches wins.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export interface Schedule {
  /** Days the windows start on (0 = Sunday). */
  days: ReadonlySet<number>;
  /** Minutes of the day: [start, end); end <= start crosses midnight. */
  ranges: ReadonlyArray<{ start: number; end: number }>;
}

export class ScheduleError extends Error {}

/** Parses a schedule; throws a ScheduleError saying what is wrong with it. */
export function parseSchedule(text: string): Schedule {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0 || parts.length > 2) throw new ScheduleError(`"${text}": expected days, times or both, such as "Mon-Fri 08:00-18:00"`);
  let days: Set<number> | null = null;
  let ranges: Array<{ start: number; end: number }> | null = null;
  for (const part of parts) {
    if (/^\d/.test(part)) {
      if (ranges) throw new ScheduleError(`"${text}": times given twice`);
      ranges = part.split(',').map((r) => parseRange(r, text));
    } else {
      if (days || ranges) throw new ScheduleError(`"${text}": days come first, once`);
      days = parseDays(part, text);
    }
  }
  return { days: days ?? new Set([0, 1, 2, 3, 4, 5, 6]), ranges: ranges ?? [{ start: 0, end: 24 * 60 }] };
}

function parseDays(part: string, text: string): Set<number> {
  const out = new Set<number>();
  for (const item of part.split(',')) {
    const [from, to, extra] = item.split('-');
    if (extra !== undefined) throw new ScheduleError(`"${text}": "${item}" is not a day or a range of days`);
    const a = dayIndex(from!, text);
    const b = to === undefined ? a : dayIndex(to, text);
    for (let d = a; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === b) break;
    }
  }
  return out;
}

function dayIndex(name: string, text: string): number {
  const i = DAYS.findIndex((d) => d.toLowerCase() === name.slice(0, 3).toLowerCase() && name.length >= 3);
  if (i < 0) throw new ScheduleError(`"${text}": "${name}" is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
  return i;
}

function parseRange(range: string, text: string): { start: number; end: number } {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(range);
  if (!m) throw new ScheduleError(`"${text}": "${range}" is not a time range such as 08:00-18:00`);
  const start = minutes(Number(m[1]), Number(m[2]), false, text);
  const end = minutes(Number(m[3]), Number(m[4]), true, text);
  if (start === end) throw new ScheduleError(`"${text}": "${range}" is empty`);
  return { start, end };
}

function minutes(h: number, m: number, end: boolean, text: string): number {
  if (m > 59 || h > 24 || (h === 24 && (m > 0 || !end))) throw new ScheduleError(`"${text}": ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')} is not a time of day`);
  return h * 60 + m;
}

/** Whether the timezone is a known IANA name. */
export function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in a timezone: day of the week (0 = Sunday) and minute of the day. */
export function wallClock(at: Date, timezone = 'UTC'): { day: number; minute: number } {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
  return { day: DAYS.indexOf(parts.weekday as (typeof DAYS)[number]), minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** Whether the schedule is active at that wall-clock time. */
export function activeAt(s: Schedule, clock: { day: number; minute: number }): boolean {
  const yesterday = (clock.day + 6) % 7;
  for (const r of s.ranges) {
    if (r.end > r.start) {
      if (s.days.has(clock.day) && clock.minute >= r.start && clock.minute < r.end) return true;
    } else {
      // Crosses midnight: the evening part on its own day, the morning part on the next.
      if (s.days.has(clock.day) && clock.minute >= r.start) return true;
      if (s.days.has(yesterday) && clock.minute < r.end) return true;
    }
  }
  return false;
}

export interface TimeRule {
  name: string;
  schedule: string;
  profile: string;
  timezone?: string;
}

const parsed = new Map<string, Schedule>();

/** The first rule active at `at` (configuration order), or null. */
export function ruleAt<R extends TimeRule>(rules: readonly R[], at: Date): R | null {
  for (const rule of rules) {
    // Parsed once per text: the daemon asks every interval, `schedule show` every minute of a week.
    let schedule = parsed.get(rule.schedule);
    if (!schedule) parsed.set(rule.schedule, (schedule = parseSchedule(rule.schedule)));
    if (activeAt(schedule, wallClock(at, rule.timezone ?? 'UTC'))) return rule;
  }
  return null;
}
