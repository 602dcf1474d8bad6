/**
 * Rollups (SPEC, "Rollups: nothing disappears"): every process not exported individually lands in
 * exactly one group of its tier. Gauges are sums over current members, so exported totals equal the
 * snapshot's; sums carry the members' deltas, and their cumulative values only ever grow, because
 * a group keeps what departed members contributed.
 */
import type { ProcessSample } from '../snapshot/types.js';
import type { MetricSet } from './metricset.js';
import { buildMetrics, type SeriesValues } from './series.js';
import type { Attributes, Metric, ResourceSeries, RollupCarry } from './types.js';

const DAY = 86400;
export const OTHER_GROUP = '_other';
/** The tier of the host-level group that carries totals of kept processes whose tier has no rollup. */
export const KEPT_TIER = '_kept';

export interface RollupMember {
  p: ProcessSample;
  tier: string;
  /** Its group by executable (see groupName), computed once per identity by the caller. */
  group: string;
  /** Set by buildRollups: the group it landed in, as `tier/group`. */
  rollup: string;
  importance: number;
  composite: number;
  dCpuUser: number;
  dCpuSystem: number;
  dIoRead: number | null;
  dIoWrite: number | null;
  dCtxVoluntary: number;
  dCtxInvoluntary: number;
  dMinorFaults: number;
  dMajorFaults: number;
}

export interface RollupInput<M extends RollupMember> {
  members: M[];
  /** Kept processes whose own series lack some of the totals (their `set`): those parts go to `_other`. */
  uncarried: Array<{ member: M; set: MetricSet }>;
  by: 'tier_executable' | 'tier';
  groupsPerTier: number;
  /** Groups with less of the host's usage than this join the tier's _other. */
  minShare: number;
  /** The resource attributes of a group (and their sizes), cached by the caller across intervals. */
  attributes: (tier: string, group: string) => GroupAttributes;
  set: MetricSet;
  carry: Map<string, RollupCarry>;
  t: number;
  intervalStart: number | null;
}

export interface GroupAttributes {
  attributes: Attributes;
  size: number;
  billed: number;
}

export interface RollupOutput {
  resources: ResourceSeries[];
  carry: Map<string, RollupCarry>;
}

/**
 * The group of a process: its executable's basename, else its name with digits folded (`kworker/*`).
 * Names that a program generates fold too, so that each run does not make a group of its own:
 * hex hashes (`memfd:sealed-91173221a7ea` -> `memfd:sealed-*`), an AppImage's mount
 * (`.mount_Obsidi3kQ2x` -> `.mount_*`), a package manager's leftover of a replaced binary
 * (`/usr/sbin/sshd;5f3a2b1c (deleted)` -> `sshd`).
 */
export function groupName(p: ProcessSample): string {
  if (p.exe !== '') {
    const path = p.exe.endsWith(' (deleted)') ? p.exe.slice(0, -10) : p.exe;
    // A program run from a memfd has the memfd's name for a path, slashes and all (runc's `memfd:runc_cloned:/proc/self/exe`).
    const base = path.startsWith('/memfd:') ? path.slice(1) : path.slice(path.lastIndexOf('/') + 1);
    if (base !== '') return stableName(base);
  }
  const slash = p.name.indexOf('/');
  if (slash > 0) return `${p.name.slice(0, slash)}/*`;
  return p.name.replace(/\d+/g, '*');
}

/** An executable's name without the parts a program generated (see groupName). Linear: one pass per pattern. */
function stableName(base: string): string {
  const semicolon = base.indexOf(';');
  if (semicolon > 0) base = base.slice(0, semicolon);
  if (base.startsWith('.mount_')) return '.mount_*';
  // 8 or more hex digits with a digit among them: a hash or a random suffix, not a word.
  return base.replace(/[0-9a-fA-F]{8,}/g, (h) => (/\d/.test(h) ? '*' : h));
}

interface Group<M> {
  tier: string;
  name: string;
  members: M[];
  weight: number;
  extra: Array<{ member: M; set: MetricSet }>;
}

function zeroCarry(start: number): RollupCarry {
  return { cpuUser: 0, cpuSystem: 0, ioRead: 0, ioWrite: 0, ctxVoluntary: 0, ctxInvoluntary: 0, minorFaults: 0, majorFaults: 0, start, last: start };
}

export function buildRollups<M extends RollupMember>(input: RollupInput<M>): RollupOutput {
  const { t, set } = input;
  // Group by tier, then by executable (or the whole tier).
  const tiers = new Map<string, Map<string, Group<M>>>();
  const groupFor = (tier: string, name: string): Group<M> => {
    let groups = tiers.get(tier);
    if (!groups) tiers.set(tier, (groups = new Map()));
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { tier, name, members: [], weight: 0, extra: [] }));
    return g;
  };
  for (const m of input.members) {
    const g = groupFor(m.tier, input.by === 'tier' ? OTHER_GROUP : m.group);
    g.members.push(m);
    g.weight += m.composite;
  }
  // A group of one process costs as much as its own series, and an idle group tells nothing: both go
  // to the tier's _other, and so do the smallest groups beyond the cap (`_other` counts as a group).
  for (const [tier, groups] of tiers) {
    const named = [...groups.values()].filter((g) => g.name !== OTHER_GROUP);
    const small = (g: Group<M>): boolean => g.members.length === 1 || g.weight < input.minShare;
    const singles = named.filter(small);
    const ranked = named.filter((g) => !small(g)).sort((a, b) => b.weight - a.weight || (a.name < b.name ? -1 : 1));
    const needOther = groups.has(OTHER_GROUP) || singles.length > 0 || ranked.length > input.groupsPerTier;
    const fold = [...singles, ...ranked.slice(needOther ? input.groupsPerTier - 1 : ranked.length)];
    if (fold.length === 0) continue;
    const other = groupFor(tier, OTHER_GROUP);
    for (const g of fold) {
      other.members.push(...g.members);
      other.weight += g.weight;
      groups.delete(g.name);
    }
  }
  // Totals that kept processes do not export themselves ride on a rollup of their tier (its _other,
  // else its largest group); those of tiers without one share a single host-level carrier.
  for (const u of input.uncarried) {
    const groups = tiers.get(u.member.tier);
    const carrier =
      groups?.get(OTHER_GROUP) ?? (groups && groups.size > 0 ? [...groups.values()].sort((a, b) => b.weight - a.weight)[0]! : groupFor(KEPT_TIER, OTHER_GROUP));
    carrier.extra.push(u);
  }

  const carry = new Map<string, RollupCarry>();
  for (const [k, c] of input.carry) if (c.last > t - DAY) carry.set(k, c);
  const resources: ResourceSeries[] = [];
  const sortedTiers = [...tiers.keys()].sort();
  for (const tier of sortedTiers) {
    const groups = [...tiers.get(tier)!.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const g of groups) {
      const key = `${tier}/${g.name}`;
      for (const m of g.members) m.rollup = key;
      const prev = input.carry.get(key);
      // A new group's cumulative values count from the start of the interval its first deltas cover.
      const c: RollupCarry = prev ? { ...prev, last: t } : zeroCarry(input.intervalStart ?? t);
      const v = sumMembers(g, c);
      c.last = t;
      carry.set(key, c);
      // A group that only carries totals of kept processes exports just those totals.
      const metrics: Metric[] = buildMetrics(g.members.length > 0 ? set : carriedSet(g, set), v);
      metrics.push({
        name: 'process.count', unit: '{process}', description: 'Processes in this rollup group.', kind: 'gauge', monotonic: false, integer: true,
        points: [{ attributes: null, value: g.members.length }],
      });
      const a = input.attributes(tier, g.name);
      resources.push({ kind: 'rollup', attributes: a.attributes, metrics, attributesSize: a.size, attributesBilled: a.billed, seriesKey: `r${key}` });
    }
  }
  return { resources, carry };
}

/** The part of the rollup set that a member-less group carries for its kept processes. */
function carriedSet<M extends RollupMember>(g: Group<M>, set: MetricSet): MetricSet {
  const missing = (has: (own: MetricSet) => boolean): boolean => g.extra.some((e) => !has(e.set));
  return {
    ...set,
    cpuStates: set.cpuStates.filter((s) => missing((own) => own.cpuStates.includes(s))),
    memoryUsage: set.memoryUsage && missing((own) => own.memoryUsage),
    memoryVirtual: false,
    ioDirections: set.ioDirections.filter((d) => missing((own) => own.ioDirections.includes(d))),
    cpuUtilization: false,
    threads: false,
    openFds: false,
    contextSwitches: false,
    pagingFaults: false,
  };
}

/** Sums a group's members (and the uncarried parts of kept processes) and advances its carry. */
function sumMembers<M extends RollupMember>(g: Group<M>, c: RollupCarry): SeriesValues {
  const v: SeriesValues = {
    dCpuUser: 0, dCpuSystem: 0, cpuUser: 0, cpuSystem: 0, rssBytes: 0, vmsBytes: 0, dIoRead: 0, dIoWrite: 0, ioRead: 0, ioWrite: 0,
    cpuUtilization: 0, threads: 0, fds: 0, dCtxVoluntary: 0, dCtxInvoluntary: 0, ctxVoluntary: 0, ctxInvoluntary: 0,
    dMajorFaults: 0, dMinorFaults: 0, majorFaults: 0, minorFaults: 0, start: c.start,
  };
  for (const m of g.members) {
    v.dCpuUser += m.dCpuUser;
    v.dCpuSystem += m.dCpuSystem;
    v.rssBytes += m.p.rss_bytes;
    v.vmsBytes += m.p.vms_bytes;
    v.dIoRead! += m.dIoRead ?? 0;
    v.dIoWrite! += m.dIoWrite ?? 0;
    v.threads += m.p.threads;
    v.fds! += m.p.fds ?? 0;
    v.dCtxVoluntary += m.dCtxVoluntary;
    v.dCtxInvoluntary += m.dCtxInvoluntary;
    v.dMinorFaults += m.dMinorFaults;
    v.dMajorFaults += m.dMajorFaults;
  }
  for (const { member: m, set: own } of g.extra) {
    if (!own.cpuStates.includes('user')) v.dCpuUser += m.dCpuUser;
    if (!own.cpuStates.includes('system')) v.dCpuSystem += m.dCpuSystem;
    if (!own.memoryUsage) v.rssBytes += m.p.rss_bytes;
    if (!own.ioDirections.includes('read')) v.dIoRead! += m.dIoRead ?? 0;
    if (!own.ioDirections.includes('write')) v.dIoWrite! += m.dIoWrite ?? 0;
  }
  c.cpuUser += v.dCpuUser;
  c.cpuSystem += v.dCpuSystem;
  c.ioRead += v.dIoRead!;
  c.ioWrite += v.dIoWrite!;
  c.ctxVoluntary += v.dCtxVoluntary;
  c.ctxInvoluntary += v.dCtxInvoluntary;
  c.minorFaults += v.dMinorFaults;
  c.majorFaults += v.dMajorFaults;
  v.cpuUser = c.cpuUser;
  v.cpuSystem = c.cpuSystem;
  v.ioRead = c.ioRead;
  v.ioWrite = c.ioWrite;
  v.ctxVoluntary = c.ctxVoluntary;
  v.ctxInvoluntary = c.ctxInvoluntary;
  v.minorFaults = c.minorFaults;
  v.majorFaults = c.majorFaults;
  return v;
}
