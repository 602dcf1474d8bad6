import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { defaultConfig } from '../config/index.js';
import { encodeProtobuf } from '../otlp/encode.js';
import { emptyState, Pipeline } from '../pipeline/index.js';
import { generate } from '../snapshot/synth.js';
import { ExportMetricsServiceRequest } from '../../test/otlp-receiver.js';
import { buildRequests, splitStored, topLevelFields } from './requests.js';

/** Decoded with the official OTLP definitions, never with the code under test. */
const decode = (raw: Uint8Array): unknown[] =>
  (ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(raw), { longs: String }) as { resourceMetrics?: unknown[] }).resourceMetrics ?? [];

/** The per-resource encodings of one interval of a synthetic Kubernetes node. */
function bigInterval(): { parts: Uint8Array[]; whole: Uint8Array } {
  const config = defaultConfig();
  const { snapshots } = generate({ archetype: 'k8s-node', intervals: 2, seed: 7 });
  const pipeline = new Pipeline(config, 'conservative');
  const state = emptyState();
  pipeline.run(snapshots[0]!, state);
  const { batch } = pipeline.run(snapshots[1]!, state, { decisions: false });
  const resources = batch.resources;
  return {
    parts: resources.map((r) => encodeProtobuf([r], batch, 'delta')),
    whole: encodeProtobuf(resources, batch, 'delta'),
  };
}

describe('request bodies', () => {
  it('stay under the limit as sent, lose nothing and keep the order (gzip and uncompressed)', () => {
    const { parts, whole } = bigInterval();
    const expected = decode(whole);
    for (const [compression, limit] of [['gzip', 4_000], ['none', 20_000]] as const) {
      const { bodies, oversize } = buildRequests(parts, compression, limit);
      assert.equal(oversize, 0);
      assert.ok(bodies.length > 1, `${compression}: the interval needed several requests`);
      for (const b of bodies) {
        const sent = compression === 'gzip' ? b.length : gunzipSync(b).length;
        assert.ok(sent < limit, `${compression}: ${sent} bytes as sent`);
      }
      assert.deepEqual(bodies.flatMap((b) => decode(gunzipSync(b))), expected);
    }
  });

  it('counts a resource that alone exceeds the limit instead of sending it', () => {
    const { parts } = bigInterval();
    const largest = Math.max(...parts.map((p) => p.length));
    const { bodies, oversize } = buildRequests(parts, 'none', largest);
    assert.ok(oversize >= 1);
    assert.equal(bodies.flatMap((b) => decode(gunzipSync(b))).length, parts.length - oversize);
  });

  it('cuts a stored request in two between resources (413), down to one resource', () => {
    const { parts, whole } = bigInterval();
    let pending = buildRequests(parts, 'gzip', 1e9).bodies;
    assert.equal(pending.length, 1);
    const singles: Buffer[] = [];
    while (pending.length > 0) {
      const next: Buffer[] = [];
      for (const b of pending) {
        const halves = splitStored(b);
        if (halves) next.push(...halves);
        else singles.push(b);
      }
      pending = next.slice(0, 200); // enough to reach single resources on a few branches
      if (singles.length > 0) break;
    }
    assert.equal(decode(gunzipSync(singles[0]!)).length, 1);
    assert.equal(topLevelFields(whole)!.length, parts.length);
    assert.equal(topLevelFields(Buffer.from([0x0a, 0x05, 1])), null, 'a truncated field is not a request');
  });
});
