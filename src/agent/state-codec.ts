/**
 * The pipeline state (rates, EWMA, anomaly windows, top-K incumbents, rollup carry, series seen) as
 * bytes for the state store, so that a restart neither resets anomaly detection nor turns a
 * process's lifetime usage into one interval's delta. V8's serializer keeps the Maps as they are.
 */
import { deserialize, serialize } from 'node:v8';
import type { PipelineState } from '../pipeline/index.js';

const FORMAT = 1;

export function encodeState(state: PipelineState): Buffer {
  return serialize({ format: FORMAT, state });
}

/** The state, or null when the bytes are not a state this version wrote (it then starts afresh). */
export function decodeState(bytes: Buffer): PipelineState | null {
  let value: unknown;
  try {
    value = deserialize(bytes);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== FORMAT) return null;
  const s = (value as { state?: Partial<PipelineState> }).state;
  if (
    !s ||
    !(s.processes instanceof Map) ||
    !(s.rollups instanceof Map) ||
    !(s.seriesSeen instanceof Map) ||
    typeof s.seriesUnique !== 'number' ||
    (s.timestamp !== null && typeof s.timestamp !== 'number')
  ) {
    return null;
  }
  return s as PipelineState;
}
