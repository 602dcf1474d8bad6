/**
 * Shadow profiles as an operator meets them: the real agent replays a synthetic recording with the
 * embedded defaults (every built-in profile a shadow), and the real nrdot-plus-ctl compares the
 * profiles over the recording's time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV } from './agent-process.js';
import { CTL, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-compare-'));
after(() => rmSync(root, { recursive: true, force: true }));

function ctl(dir: string, args: string[]): Promise<RunResult> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });
}

interface Comparison {
  since: number;
  until: number;
  in_force: string;
  shadow_profiles: string[];
  cost_model: { currency: string };
  profiles: Array<{ profile: string; intervals: { real: number; shadow: number }; cost_per_hour_mean: number; coverage_critical_min: number | null; reduction_bytes_mean: number }>;
}

describe('nrdot-plus-ctl profile compare', () => {
  it('puts every built-in profile beside the one in force over the recording\'s time, and says when a window holds nothing', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const recording = join(dir, 'db.ndjson.gz');
    // 2025-11-26 00:00 UTC on, one snapshot every 10 s.
    const synth = await run(CTL, ['synth', '--archetype', 'db-host', '--intervals', '12', '--interval', '10', '--output', recording]);
    assert.equal(synth.code, 0, synth.stderr);
    // The control loop off (the default, said here because the test depends on it): balanced stays in force.
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_ENABLE_CONTROL_LOOP: 'false' });
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 60_000, 'the end of the replay');
      const shadowMs = agent.lines.filter((l) => typeof l.read_ms === 'number').map((l) => l.shadow_cpu_ms);
      assert.equal(shadowMs.length, 12);
      assert.ok(shadowMs.every((ms) => typeof ms === 'number' && ms >= 0), `each interval line says what the shadows cost: ${JSON.stringify(shadowMs)}`);

      const json = await ctl(dir, ['profile', 'compare', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const c = JSON.parse(json.stdout) as Comparison;
      assert.equal(c.in_force, 'balanced');
      assert.deepEqual(c.shadow_profiles, ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency']);
      assert.deepEqual(
        c.profiles.map((p) => [p.profile, p.intervals.real, p.intervals.shadow]),
        [
          ['conservative', 0, 11],
          ['balanced', 12, 0], // measured on what was exported, every interval
          ['aggressive', 0, 11],
          ['minimal', 0, 11],
          ['emergency', 0, 11], // the first interval has no rates: not compared
        ],
      );
      const cost = Object.fromEntries(c.profiles.map((p) => [p.profile, p.cost_per_hour_mean]));
      const order = ['emergency', 'minimal', 'aggressive', 'balanced', 'conservative'];
      for (let i = 1; i < order.length; i++) {
        assert.ok(cost[order[i - 1]!]! <= cost[order[i]!]! * 1.01, `${order[i - 1]} (${cost[order[i - 1]!]}) costs no more than ${order[i]} (${cost[order[i]!]})`);
      }
      assert.ok(c.profiles.every((p) => p.coverage_critical_min === 1), 'every profile keeps the critical processes');
      assert.ok(c.profiles.every((p) => p.reduction_bytes_mean > 0.5));
      assert.ok(c.until - c.since === 86_400 && c.until < Date.now() / 1000 - 86_400 * 30, 'a day back from the recording\'s latest snapshot, not from the wall clock');

      const human = await ctl(dir, ['profile', 'compare']);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^profiles side by side from 2025-11-25T00:01:50Z to 2025-11-26T00:01:50Z \(data time\), cost in USD/);
      assert.match(human.stdout, /^\s+in\s+max\s+series\s+datapoints\s+bytes\s+coverage\n^profile\s+force\s+shadow\s+USD\/hour\s+USD\/month\s+USD\/hour\s+exported\s+reduction/m, 'headers wrapped at their words to fit 120 columns');
      assert.match(human.stdout, /^balanced \*\s+12\s+0\s/m);
      assert.match(human.stdout, /^emergency\s+0\s+11\s/m);
      assert.match(human.stdout.replace(/\n/g, ' '), /\* in force now\. "in force": intervals measured on what the agent exported; "shadow"/);
      const month = /^conservative\s+0\s+11\s+([\d.]+)\s+([\d.]+)\s/m.exec(human.stdout)!;
      assert.ok(Math.abs(Number(month[2]) - Number(month[1]) * 730) <= Number(month[2]) * 0.01 + 0.01, 'a month is 730 hours');

      const lastMinute = JSON.parse((await ctl(dir, ['profile', 'compare', '--since', '1m', '--json'])).stdout) as Comparison;
      const balanced = lastMinute.profiles.find((p) => p.profile === 'balanced')!;
      assert.ok(balanced.intervals.real > 0 && balanced.intervals.real < 12, `the last minute of the recording: ${balanced.intervals.real} intervals`);

      const later = await ctl(dir, ['profile', 'compare', '--since', '2025-11-26T01:00:00Z']);
      assert.equal(later.code, 0, later.stderr);
      assert.match(later.stdout, /^no intervals recorded from 2025-11-26T01:00:00Z to .* \(data time\): nothing to compare/);
      const empty = JSON.parse((await ctl(dir, ['profile', 'compare', '--since', '2025-11-26T01:00:00Z', '--json'])).stdout) as Comparison;
      assert.deepEqual(empty.profiles, []);

      const bad = await ctl(dir, ['profile', 'compare', '--since', 'yesterday']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--since.*a duration back from the latest data such as 24h/);

      const status = JSON.parse((await ctl(dir, ['status', '--json'])).stdout) as { shadows: { profiles: string[]; last_cpu_ms: number; mean_cpu_ms: number } };
      assert.equal(status.shadows.profiles.length, 5);
      assert.ok(status.shadows.mean_cpu_ms >= 0 && status.shadows.last_cpu_ms >= 0);
    } finally {
      await agent.stop();
    }
    const none = await ctl(dir, ['profile', 'compare']);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no nrdot-plus daemon is running/);
  });

  it('prices the control loop\'s steps, and counts each interval once per profile when the profile in force changes', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const recording = join(dir, 'db.ndjson.gz');
    const synth = await run(CTL, ['synth', '--archetype', 'db-host', '--intervals', '12', '--interval', '10', '--output', recording]);
    assert.equal(synth.code, 0, synth.stderr);
    // The loop on, with a budget far below any profile's cost: it goes to emergency at its first check.
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_ENABLE_CONTROL_LOOP: 'true', NRDOT_MAX_COST_HOUR: '0.000001' });
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 60_000, 'the end of the replay');
      const history = JSON.parse((await ctl(dir, ['control', 'history', '--json'])).stdout) as { checks: Array<{ inputs: { profile: string; predicted?: Record<string, { costPerHour: number }> } }> };
      assert.ok(history.checks.length > 0);
      for (const c of history.checks) {
        const others = ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency'].filter((p) => p !== c.inputs.profile);
        assert.deepEqual(Object.keys(c.inputs.predicted ?? {}).sort(), others.sort(), 'every other profile priced by its shadow');
      }
      const c = JSON.parse((await ctl(dir, ['profile', 'compare', '--json'])).stdout) as Comparison;
      assert.ok(c.profiles.some((p) => p.intervals.real > 0 && p.intervals.shadow > 0), `a profile both in force and a shadow: ${JSON.stringify(c.profiles.map((p) => [p.profile, p.intervals]))}`);
      assert.equal(c.profiles.reduce((n, p) => n + p.intervals.real, 0), 12, 'every interval measured once');
      for (const p of c.profiles) assert.ok(p.intervals.real + p.intervals.shadow >= 11 && p.intervals.real + p.intervals.shadow <= 12, `${p.profile}: one row per interval`);
      const human = await ctl(dir, ['profile', 'compare']);
      assert.match(human.stdout, new RegExp(`^${c.in_force} \\*\\s`, 'm'));
    } finally {
      await agent.stop();
    }
  });
});
