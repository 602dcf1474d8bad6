/** `nrdot-plus-ctl schedule show`: which profile the time rules give when, and why. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CTL, run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-schedule-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'optimization.yaml');
writeFileSync(
  config,
  `advanced:
  time_based_rules:
    - { name: maintenance, schedule: "Sun 02:00-06:00", profile: aggressive, timezone: Europe/Berlin }
    - { name: business_hours, schedule: "Mon-Fri 08:00-18:00", profile: balanced, timezone: Europe/Berlin }
    - { name: after_hours, schedule: "Mon-Fri 18:00-08:00", profile: aggressive, timezone: Europe/Berlin }
    - { name: weekends, schedule: "Sat-Sun", profile: minimal, timezone: Europe/Berlin }
`,
);

interface Shown {
  rule: string | null;
  profile: string | null;
  why: string;
  next: Array<{ at: string; rule: string | null; profile: string | null }>;
}

async function show(at: string): Promise<Shown> {
  const r = await run(CTL, ['schedule', 'show', '--config', config, '--at', at, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Shown;
}

describe('nrdot-plus-ctl schedule show', () => {
  it('names the rule and profile at a time, and the next changes', async () => {
    const monday = await show('2026-11-30T09:30:00+01:00');
    assert.deepEqual([monday.rule, monday.profile], ['business_hours', 'balanced']);
    assert.match(monday.why, /first of 4 that matches/);
    assert.deepEqual(monday.next.slice(0, 2), [
      { at: '2026-11-30T17:00:00.000Z', rule: 'after_hours', profile: 'aggressive' },
      { at: '2026-12-01T07:00:00.000Z', rule: 'business_hours', profile: 'balanced' },
    ]);
    // Sunday 03:00 in Berlin: maintenance comes first in the list, so it wins over weekends.
    const sunday = await show('2026-12-06T03:00:00+01:00');
    assert.equal(sunday.rule, 'maintenance');
    // Saturday 07:00: Friday's after-hours window comes before weekends in the list.
    assert.equal((await show('2026-12-05T07:00:00+01:00')).rule, 'after_hours');
    assert.equal((await show('2026-12-05T09:00:00+01:00')).rule, 'weekends');
  });

  it('prints a table for people, and refuses a time it cannot read', async () => {
    const r = await run(CTL, ['schedule', 'show', '--config', config, '--at', '2026-11-30T09:30:00+01:00'], { env: { ...process.env, NO_COLOR: '1' } });
    assert.match(r.stdout, /profile\s+balanced/);
    assert.match(r.stdout, /#\s+RULE\s+SCHEDULE\s+TIMEZONE\s+PROFILE/);
    assert.match(r.stdout, /first matching rule in this order wins/);
    const bad = await run(CTL, ['schedule', 'show', '--config', config, '--at', 'tomorrow-ish']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--at.*ISO 8601/);
  });
});
