/**
 * What the optimizer must show (issue "The optimizer", SPEC "Targets") on synthetic hosts of every
 * archetype: reductions against the baseline per host and for the fleet, critical coverage 1, every
 * injected anomaly exported as its own series, and totals exact. Everything the assertions compare
 * against is computed here from the input snapshots, not from the pipeline's own KPIs.
 */
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../src/config/index.js';
import { Classifier } from '../src/pipeline/classify.js';
import { emptyState, Pipeline, type ResourceSeries } from '../src/pipeline/index.js';
import { billedBytes, datapointCount } from '../src/otlp/size.js';
import { Baseline } from '../src/pipeline/baseline.js';
import { hostAttributes } from '../src/pipeline/series.js';
import { readRecording } from '../src/snapshot/recording.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { CTL, run } from './run.js';
import { inputDeltas } from './totals.js';

const ARCHETYPES = ['k8s-node', 'db-host', 'web-php', 'ci-runner'];
const INTERVALS = 40;
/** Two windows of the synthetic day: the quiet night (from 00:00 UTC) and the busy afternoon (12:00). */
const WINDOWS = [{ name: 'night', start: 1764115200 }, { name: 'peak', start: 1764115200 + 12 * 3600 }];
const INTERVAL = 60;
const FLOORS: Record<string, { fleet: number; host: number }> = {
  conservative: { fleet: 0.75, host: 0.65 },
  balanced: { fleet: 0.9, host: 0.85 },
  aggressive: { fleet: 0.93, host: 0.88 },
};

interface Truth {
  anomalies: Array<{ kind: string; pid: number; start_time: number; from_timestamp: number; to_timestamp: number }>;
}

const dir = mkdtempSync(join(tmpdir(), 'nrdot-synth-hosts-'));
const hosts = new Map<string, { snapshots: Snapshot[]; truth: Truth }>();
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  for (const window of WINDOWS) {
    for (const archetype of ARCHETYPES) {
      const name = `${archetype}-${window.name}`;
      const out = join(dir, `${name}.ndjson.gz`);
      const args = ['--archetype', archetype, '--intervals', String(INTERVALS), '--interval', String(INTERVAL), '--seed', '7', '--start', String(window.start)];
      const r = await run(CTL, ['synth', ...args, '--output', out]);
      assert.equal(r.code, 0, r.stderr);
      const snapshots: Snapshot[] = [];
      for await (const s of readRecording(out)) snapshots.push(s);
      hosts.set(name, { snapshots, truth: JSON.parse(readFileSync(join(dir, `${name}.truth.json`), 'utf8')) as Truth });
    }
  }
});

const config = defaultConfig();
const classifier = new Classifier(config);

/** Sums of one metric over process and rollup resources. */
function exported(resources: ResourceSeries[], metric: string): number {
  let total = 0;
  for (const r of resources) if (r.kind !== 'self') for (const m of r.metrics) if (m.name === metric) for (const p of m.points) total += p.value;
  return total;
}

interface Volume {
  baselineDatapoints: number;
  exportedDatapoints: number;
  baselineBilled: number;
  exportedBilled: number;
}

/** Runs one profile over one host, checking the per-interval invariants; returns the volumes. */
function replay(archetype: string, profile: string): Volume {
  const { snapshots, truth } = hosts.get(archetype)!;
  const pipeline = new Pipeline(config, profile);
  let state = emptyState();
  const volume: Volume = { baselineDatapoints: 0, exportedDatapoints: 0, baselineBilled: 0, exportedBilled: 0 };
  let prev: Snapshot | null = null;
  for (const s of snapshots) {
    const { batch, state: next } = pipeline.run(s, state);
    state = next;
    const individual = new Set(batch.resources.filter((r) => r.kind === 'process').map((r) => r.attributes['process.pid']));
    // Totals, from the input.
    const { cpu, io, rss } = inputDeltas(prev, s);
    const within = (out: number, input: number): boolean => Math.abs(out - input) <= 0.001 * Math.max(Math.abs(input), 1e-9);
    assert.ok(within(exported(batch.resources, 'process.memory.usage'), rss), `${archetype}/${profile} at ${s.timestamp}: memory total`);
    assert.ok(within(exported(batch.resources, 'process.cpu.time'), cpu), `${archetype}/${profile} at ${s.timestamp}: CPU deltas`);
    if (profile !== 'emergency') assert.ok(within(exported(batch.resources, 'process.disk.io'), io), `${archetype}/${profile} at ${s.timestamp}: IO deltas`);
    // Critical coverage, from the input's classification.
    for (const p of s.processes) {
      if (classifier.classify(p).critical) assert.ok(individual.has(p.pid), `${archetype}/${profile}: critical ${p.name} (${p.pid}) kept`);
    }
    // Every injected anomaly, from one interval after it starts until it ends.
    if (profile !== 'emergency') {
      for (const a of truth.anomalies) {
        if (s.timestamp >= a.from_timestamp + INTERVAL && s.timestamp <= a.to_timestamp) {
          assert.ok(individual.has(a.pid), `${archetype}/${profile}: ${a.kind} of pid ${a.pid} exported at ${s.timestamp}`);
        }
      }
    }
    // Volumes: the baseline from the input alone, the exported from the batch.
    const base = new Baseline(hostAttributes(s.host));
    for (const p of s.processes) {
      const b = base.measure(p);
      volume.baselineDatapoints += b.datapoints;
      volume.baselineBilled += b.billedBytes;
    }
    for (const r of batch.resources) {
      volume.exportedDatapoints += datapointCount(r);
      volume.exportedBilled += billedBytes(r);
    }
    prev = s;
  }
  return volume;
}

describe('synthetic hosts', () => {
  it('have injected anomalies to find', () => {
    for (const [archetype, { truth }] of hosts) assert.ok(truth.anomalies.length >= 3, `${archetype}: ${truth.anomalies.length} anomalies`);
  });

  for (const profile of Object.keys(config.profiles)) {
    it(`${profile}: totals exact, critical coverage 1, anomalies kept, reductions met on each host and the fleet`, () => {
      const fleet: Volume = { baselineDatapoints: 0, exportedDatapoints: 0, baselineBilled: 0, exportedBilled: 0 };
      const floor = FLOORS[profile];
      for (const archetype of hosts.keys()) {
        const v = replay(archetype, profile);
        for (const k of Object.keys(fleet) as Array<keyof Volume>) fleet[k] += v[k];
        if (floor) {
          const dp = 1 - v.exportedDatapoints / v.baselineDatapoints;
          const bytes = 1 - v.exportedBilled / v.baselineBilled;
          assert.ok(dp >= floor.host, `${archetype}/${profile}: datapoints -${(dp * 100).toFixed(1)}% (at least ${floor.host * 100}%)`);
          assert.ok(bytes >= floor.host, `${archetype}/${profile}: billed bytes -${(bytes * 100).toFixed(1)}% (at least ${floor.host * 100}%)`);
        }
      }
      if (floor) {
        const dp = 1 - fleet.exportedDatapoints / fleet.baselineDatapoints;
        const bytes = 1 - fleet.exportedBilled / fleet.baselineBilled;
        assert.ok(dp >= floor.fleet, `fleet/${profile}: datapoints -${(dp * 100).toFixed(1)}% (at least ${floor.fleet * 100}%)`);
        assert.ok(bytes >= floor.fleet, `fleet/${profile}: billed bytes -${(bytes * 100).toFixed(1)}% (at least ${floor.fleet * 100}%)`);
      }
    });
  }
});
