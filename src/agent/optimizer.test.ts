import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/index.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';
import { Optimizer } from './optimizer.js';

/**
 * A configuration whose classification costs milliseconds for each process with a 4 KiB command line
 * (40 RE2 rules that must scan all of it, as in test/hostile.test.ts): classifying hundreds of them
 * takes far longer than the budgets given below, even on a fast machine.
 */
const SLOW_RULES = Array.from({ length: 40 }, (_, i) => `{ cmdline: "^([a-z ]|x{1,3}y){1,200}[0-9]{${(i % 5) + 1}}$" }`).join(', ');
const config = parseConfig(`custom_classification: { slow: { score: 0.5, rules: [${SLOW_RULES}] } }\nadvanced: { shadow_profiles: [] }\n`, 'slow.yaml');
const HOST = { id: 'h1', name: 'h1', cpus: 4, memory_bytes: 8 * 2 ** 30, boot_time: 1_700_000_000 };
const T0 = HOST.boot_time + 1000;

function sample(pid: number, user: string, name: string, cpu: number, start = HOST.boot_time + 100): ProcessSample {
  return {
    pid, ppid: 1, name, exe: `/usr/bin/${name}`, cmdline: `${name} ${'xy'.repeat(2040)}${pid}`, user, state: 'S', start_time: start,
    cpu_user_seconds: cpu, cpu_system_seconds: 0, rss_bytes: 2 ** 20, vms_bytes: 2 ** 24, threads: 1, fds: 3, io_read_bytes: 0,
    io_write_bytes: 0, minor_faults: 0, major_faults: 0, ctx_voluntary: 0, ctx_involuntary: 0,
  };
}

const snapshot = (timestamp: number, processes: ProcessSample[]): Snapshot => ({ schema: 'nrdot.snapshot/v1', host: HOST, timestamp, processes });
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
const never = new AbortController().signal;

/** One interval as the agent runs it: prepare until `budgetMs` from now, then process. */
async function interval(optimizer: Optimizer, s: Snapshot, budgetMs: number): Promise<number> {
  const prepared = await optimizer.prepare(s, performance.now() + budgetMs, never);
  optimizer.process(prepared.snapshot, { cadenceSeconds: 10 });
  return prepared.skipped;
}

describe('the interval time budget', () => {
  it('keeps in the interval, as seen before and as they were last classified, the known processes that exec while the budget runs out', async () => {
    const optimizer = new Optimizer(config, 'balanced', { file: null, otlp: null });
    const pids = range(2000, 300);
    await interval(optimizer, snapshot(T0, pids.map((pid) => sample(pid, 'app', 'sh', 1))), 600_000);
    // Every one execs (a new name and command line) and used 1 s of CPU: no time to classify them again.
    const skipped = await interval(optimizer, snapshot(T0 + 10, pids.map((pid) => sample(pid, 'app', 'worker', 2))), 0);
    assert.equal(skipped, 0);
    const during = optimizer.lastDecisions;
    assert.deepEqual(during.map((d) => d.pid).sort(), pids);
    for (const d of during) {
      assert.ok(d.seenBefore, `${d.pid} seen before`);
      assert.equal(d.cpuPercent, 10, `${d.pid}: its CPU over the interval`);
    }
    const stale = during.filter((d) => d.name === 'sh').length;
    assert.ok(stale > 0 && stale < pids.length, `${stale} of ${pids.length} kept their previous classification`);
    // With time, they are classified as they are now.
    await interval(optimizer, snapshot(T0 + 20, pids.map((pid) => sample(pid, 'app', 'worker', 3))), 600_000);
    assert.deepEqual(optimizer.lastDecisions.map((d) => [d.name, d.seenBefore]), pids.map(() => ['worker', true]));
  });

  it('classifies the known processes first, then the new ones in turns by user: a flood of new processes hides neither', async () => {
    const optimizer = new Optimizer(config, 'balanced', { file: null, otlp: null });
    const known = range(9000, 5);
    // The first command line of each name builds RE2's automata (hundreds of ms): a process of each name warms them up.
    const warm = [sample(8000, 'app', 'worker', 0), sample(8001, 'mallory', 'evil', 0), sample(8002, 'postgres', 'postgres', 0)];
    await interval(optimizer, snapshot(T0, [...known.map((pid) => sample(pid, 'app', 'sh', 1)), ...warm]), 600_000);
    // One user starts 3000 processes (seconds to classify) with pids below everything else; another
    // user's daemon starts after them, and the known processes exec, when the budget is 300 ms.
    const flood = range(1000, 3000).map((pid) => sample(pid, 'mallory', 'evil', 0, HOST.boot_time + 1005));
    const daemon = sample(9500, 'postgres', 'postgres', 0, HOST.boot_time + 1005);
    const skipped = await interval(optimizer, snapshot(T0 + 10, [...flood, ...known.map((pid) => sample(pid, 'app', 'worker', 2)), ...warm, daemon]), 300);
    assert.ok(skipped > 0 && skipped < flood.length, `skipped ${skipped}`);
    const kept = new Map(optimizer.lastDecisions.map((d) => [d.pid, d]));
    assert.equal(kept.size, flood.length + known.length + warm.length + 1 - skipped);
    for (const pid of known) assert.equal(kept.get(pid)?.seenBefore, true, `known ${pid} kept, seen before`);
    assert.equal(kept.get(daemon.pid)?.name, 'postgres', "the other user's new daemon is classified and kept");
  });

  it('reports the skipped processes of an interval whose processing failed in the next one', async () => {
    let failing = true;
    const file = {
      write(): void {
        if (failing) throw new Error('disk gone');
      },
    };
    const optimizer = new Optimizer(config, 'balanced', { file: file as never, otlp: null });
    const s = snapshot(T0, range(1000, 300).map((pid) => sample(pid, 'mallory', 'evil', 0)));
    const prepared = await optimizer.prepare(s, performance.now(), never);
    assert.ok(prepared.skipped > 0);
    assert.throws(() => optimizer.process(prepared.snapshot, { cadenceSeconds: 10 }), /disk gone/);
    failing = false;
    optimizer.process(prepared.snapshot, { cadenceSeconds: 10 });
    const metric = optimizer.lastExtraSelf.find((m) => m.name === 'nrdot.agent.skipped_processes');
    assert.equal(metric?.points[0]?.value, prepared.skipped, 'the delta the failed interval did not export');
    assert.equal(metric?.points[0]?.cumulative, prepared.skipped);
  });
});
