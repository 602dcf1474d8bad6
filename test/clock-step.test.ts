/**
 * The wall clock stepping under a running agent: libfaketime (Debian's `faketime`) preloaded into
 * the real agent, its offset read from a file at every call, so the test steps the clock of the
 * running process 10 days ahead or back for a few intervals and returns it. The monotonic clock is
 * left alone, as a real clock step leaves it. What a user would see: the KPI history afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StateStore } from '../src/store/index.js';
import { AgentProcess, type LogLine } from './agent-process.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-clock-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** libfaketime.so.1 wherever Debian put it for this architecture (/usr/lib/<triplet>/faketime/). */
function libfaketime(): string | null {
  for (const entry of existsSync('/usr/lib') ? readdirSync('/usr/lib') : []) {
    const file = join('/usr/lib', entry, 'faketime', 'libfaketime.so.1');
    if (existsSync(file)) return file;
  }
  return null;
}

const lib = libfaketime();
const DAY = 86_400;
const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

/** Runs the agent at the offset in a file; `steps` writes offsets (faketime's "+10d", "-10d", "+0") and waits intervals in each. */
async function runWithSteps(steps: Array<{ offset: string; intervals: number }>): Promise<{ dir: string; agent: AgentProcess }> {
  const dir = mkdtempSync(join(root, 'data-'));
  const offsetFile = join(dir, 'faketime');
  writeFileSync(offsetFile, '+0\n');
  const agent = AgentProcess.start(['--interval', '1'], {
    NRDOT_DATA_DIR: dir,
    NRDOT_CONFIG: '',
    LD_PRELOAD: lib!,
    FAKETIME_TIMESTAMP_FILE: offsetFile,
    FAKETIME_NO_CACHE: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    NO_FAKE_STAT: '1', // the procfs reader's many stat calls would each read the offset file
  });
  try {
    let total = 0;
    for (const step of steps) {
      writeFileSync(offsetFile, `${step.offset}\n`);
      total += step.intervals;
      await agent.waitForLog(() => agent.intervals() >= total, 30_000, `${total} intervals`);
    }
    assert.equal(await agent.stop(), 0, agent.stderr);
  } finally {
    await agent.kill9();
  }
  return { dir, agent };
}

function history(dir: string): number[] {
  const store = StateStore.open(join(dir, 'state'), { readonly: true });
  try {
    return store.kpiHistory({ resolution: 'raw' }).map((r) => r.time);
  } finally {
    store.close();
  }
}

describe('a wall clock step under the running agent', { skip: lib === null ? 'libfaketime is not installed (Debian package faketime)' : false }, () => {
  it('forward 10 days: nothing of the history is pruned and no row from the future is kept', async () => {
    const { dir, agent } = await runWithSteps([
      { offset: '+0', intervals: 3 },
      { offset: '+10d', intervals: 3 },
      { offset: '+0', intervals: 3 },
    ]);
    const times = history(dir);
    const now = Date.now() / 1000;
    const stamped = agent.lines.filter(isInterval).map((l) => Date.parse(String(l.time)) / 1000);
    const before = stamped.filter((t) => t < now);
    // Every interval stamped with the true time is in the history, the first ones included; none from 10 days ahead.
    assert.ok(times.length >= 6, `history: ${times.length} rows`);
    assert.ok(times.every((t) => t <= now + 60), `rows from the future: ${times.filter((t) => t > now + 60).map((t) => new Date(t * 1000).toISOString()).join(', ')}`);
    assert.equal(times.length, before.length, `history ${times.length} rows, ${before.length} intervals stamped with the true time`);
    assert.ok(Math.min(...times) <= Math.min(...before) + 2, 'the first intervals are still there');
    const warned = agent.lines.filter((l) => String(l.msg).includes('ahead of the time that passed'));
    assert.equal(warned.length, 1, 'one warning for the step');
    assert.ok(Number(warned[0]!.clock_ahead_s) > 9 * DAY);
  });

  it('back 10 days: nothing is pruned, the intervals stamped in the past are kept as stamped', async () => {
    const { dir, agent } = await runWithSteps([
      { offset: '+0', intervals: 3 },
      { offset: '-10d', intervals: 3 },
      { offset: '+0', intervals: 3 },
    ]);
    const times = history(dir);
    const now = Date.now() / 1000;
    assert.equal(times.length, agent.intervals(), 'one row per interval, none pruned');
    assert.ok(times.filter((t) => t < now - 9 * DAY).length >= 3, 'the intervals stamped 10 days back');
    assert.ok(times.filter((t) => t > now - 120).length >= 6, 'the intervals before and after the step');
  });
});
