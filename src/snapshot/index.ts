/** Snapshots: the `nrdot.snapshot/v1` types and recordings (NDJSON, optionally gzip). */
export * from './types.js';
export * from './recording.js';
