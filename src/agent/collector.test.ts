import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { ReadResult } from '../procfs/index.js';
import { PERMISSION_KINDS } from '../procfs/index.js';
import { Collector } from './collector.js';
import type { Logger } from './log.js';
import type { SnapshotSource } from './source.js';

/** A source of empty snapshots (the collector's timing is what is under test). */
function source(): SnapshotSource {
  const permissionErrors = Object.fromEntries(PERMISSION_KINDS.map((k) => [k, 0])) as ReadResult['stats']['permissionErrors'];
  return {
    kind: 'procfs',
    location: '/fake',
    pace: null,
    next: () =>
      Promise.resolve({
        snapshot: { schema: 'nrdot.snapshot/v1', timestamp: Date.now() / 1000, host: { 'host.name': 'h', 'host.id': 'h' }, system: { cpu_count: 1, memory_total_bytes: 1, clock_ticks: 100, page_size: 4096, boot_time: 0 }, processes: [] },
        stats: { processes: 0, vanished: 0, permissionErrors, permissionErrorsTotal: 0, otherErrors: 0, durationMs: 0, permissionErrorDetails: [] },
      } as unknown as ReadResult),
    close: () => undefined,
  };
}

function logger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink) as unknown as Logger;
}

describe('Collector', () => {
  it('skips and counts the ticks an interval overran, instead of piling them up, and names the slow stage', async () => {
    const lines: Array<Record<string, unknown>> = [];
    let calls = 0;
    let resolveSkipped: () => void;
    const skipped = new Promise<void>((r) => (resolveSkipped = r));
    const collector = new Collector({
      source: source(),
      intervalSeconds: 0.05,
      log: logger(lines),
      logPermissionErrors: false,
      handle: async () => {
        // The second interval's work takes three intervals.
        if (++calls === 2) {
          const until = performance.now() + 160;
          while (performance.now() < until) {
            // busy, as a slow pipeline would be
          }
        }
        if (calls === 3) resolveSkipped();
        return { fields: {}, summary: '', stagesMs: { pipeline: calls === 2 ? 160 : 1, store: 1 } };
      },
    });
    collector.start();
    await skipped;
    await collector.stop();
    assert.ok(collector.skipped >= 2 && collector.skipped <= 4, `skipped ${collector.skipped}`);
    const warning = lines.find((l) => /overran the next tick/.test(String(l.msg)));
    assert.equal(warning?.skipped_total, collector.skipped);
    // It names the stage that took the time, with the others beside it.
    assert.match(String(warning?.msg), /took \d+(\.\d)? ms, most of it pipeline \(160 ms; read \d+(\.\d)? ms, store 1 ms\)/);
    assert.equal((warning?.stages_ms as Record<string, number>).pipeline, 160);
    assert.equal(collector.intervals, 3, 'no burst of catch-up intervals');
  });
});
