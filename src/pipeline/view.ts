/**
 * What the stages know about one process: its memoized classification (per identity) and its view in
 * the current interval. Views are pooled by the pipeline and reused from one run to the next.
 */
import type { ProcessSample } from '../snapshot/types.js';
import type { BaselineFigures } from './baseline.js';
import type { Classification } from './classify.js';
import type { Usage } from './rates.js';
import type { RollupMember } from './rollup.js';
import type { Attributes, Dropped, ProcessMemory, ProfileMemory } from './types.js';

/** A process's resource attributes and their sizes (protobuf, billed). */
export interface KnownAttributes {
  attributes: Attributes;
  size: number;
  billed: number;
}

/** Classification and redacted command line, memoized per identity while its static attributes hold. */
export interface Known extends Classification {
  name: string;
  exe: string;
  cmdline: string;
  /** The command line cut as the receiver cuts it (the same string when short enough). */
  bounded: string;
  user: string;
  ppid: number;
  redacted: string;
  /** Resource attributes and their sizes, built the first time the process is kept: with its command line, and without (emergency). */
  attributes: KnownAttributes | null;
  bare: KnownAttributes | null;
  /** This process's share of the baseline (static attributes: computed once per identity). */
  baseline: BaselineFigures | null;
  /** Identity key of its resource (for series_unique_24h). */
  seriesKey: string;
  /** Its rollup group by executable. */
  group: string;
  start: number;
}

/** One process in this interval, as the stages see it. */
export interface View extends RollupMember, Usage {
  p: ProcessSample;
  known: Known;
  mem: ProcessMemory;
  /** The profile's own memory of the identity, for the stages after the first (`mem` for a Pipeline's profile). */
  pm: ProfileMemory;
  seenBefore: boolean;
  /** The statistics confirmed an anomaly this interval (stage 1); `anomaly`: the profile keeps it for one (its retention). */
  detected: boolean;
  anomaly: boolean;
  composite: number;
  incumbent: boolean;
  /** Its rank by composite among its tier's top-K candidates; 0 when it was no candidate. */
  rank: number;
  /** Where it left the path to a series of its own; null while kept. */
  dropped: Dropped | null;
  reason: string;
  kept: boolean;
  sampled: boolean;
  series: number;
}

export function newView(p: ProcessSample, known: Known, mem: ProcessMemory): View {
  return {
    p, known, mem, pm: mem, seenBefore: false, detected: false, anomaly: false, incumbent: false, rank: 0, dropped: null, reason: '', kept: false, sampled: false, series: 0,
    tier: known.tier, importance: known.importance, group: known.group, rollup: '', composite: 0,
    dCpuUser: 0, dCpuSystem: 0, dIoRead: null, dIoWrite: null, cpuPercent: 0, ioBytesPerSec: 0,
    dCtxVoluntary: 0, dCtxInvoluntary: 0, dMinorFaults: 0, dMajorFaults: 0,
  };
}

export function newMemory(start: number): ProcessMemory {
  return {
    start,
    t: 0, cpuUser: 0, cpuSystem: 0, ioRead: null, ioWrite: null, ctxVoluntary: 0, ctxInvoluntary: 0, minorFaults: 0, majorFaults: 0,
    cpuMean: 0, cpuVar: 0, rssMean: 0, rssVar: 0, samples: 0, pending: false, pendingCpu: 0, pendingRss: 0, anomalyUntil: 0, inTopK: false,
  };
}

/** FNV-1a, 32 bits: a stable, seedless hash for the deterministic sample. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
