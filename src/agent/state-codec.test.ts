import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../config/index.js';
import { emptyState, Pipeline } from '../pipeline/index.js';
import { SyntheticHost } from '../snapshot/synth.js';
import { decodeState, encodeState } from './state-codec.js';

describe('pipeline state across a restart', () => {
  it('gives the same exports, decisions and KPIs as an agent that never stopped', () => {
    const snapshots = [...new SyntheticHost({ archetype: 'web-php', intervals: 24, intervalSeconds: 60, seed: 7, start: 1764115200 }).snapshots()];
    const config = defaultConfig();
    const continuous = new Pipeline(config, 'balanced');
    const restarted = new Pipeline(config, 'balanced');
    let a = emptyState();
    let b = emptyState();
    let anomalies = 0;
    for (const snapshot of snapshots) {
      const x = continuous.run(snapshot, a);
      // The restarted agent's state went through the store's bytes before every interval.
      const y = restarted.run(snapshot, decodeState(encodeState(b))!);
      a = x.state;
      b = y.state;
      assert.deepEqual(y.batch, x.batch);
      assert.deepEqual(y.decisions, x.decisions);
      assert.deepEqual(y.kpis, x.kpis);
      anomalies += x.kpis.anomalies;
    }
    assert.ok(anomalies > 0, 'the anomaly windows were carried too');
  });

  it('starts afresh from bytes it did not write', () => {
    assert.equal(decodeState(Buffer.from('not a state')), null);
    assert.equal(decodeState(encodeState({ ...emptyState(), processes: [] as never })), null);
  });
});
