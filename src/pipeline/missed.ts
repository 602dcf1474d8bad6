/**
 * Why a rolled-up process was not kept, with the figures of the rules it missed (SPEC, "Profiles",
 * selection rules 3 and 4), for `explain` and `top`: its usage against each threshold (in the
 * decision itself), and its rank among its tier's top-K candidates, or why it was no candidate.
 * Built only with the decisions, never on a profile's run for KPIs alone.
 */
import type { ProfileConfig } from '../config/index.js';
import { topKFor } from './select.js';
import type { Missed } from './types.js';
import type { View } from './view.js';

/** Returns what a rolled-up view missed; the top-K pools are the tiers' candidates of this interval. */
export function missedRules(profile: ProfileConfig, pools: ReadonlyMap<string, View[]>): (v: View) => Missed {
  const th = profile.thresholds;
  const thresholds = { cpu_percent: th.cpu_threshold_percent, memory_mb: th.memory_threshold_mb, io_kb_per_sec: th.io_threshold_kb_per_sec };
  const ranks = new Map<View, number>();
  for (const pool of pools.values()) {
    const sorted = [...pool].sort((a, b) => b.composite - a.composite || a.p.pid - b.p.pid);
    for (let i = 0; i < sorted.length; i++) ranks.set(sorted[i]!, i + 1);
  }
  return (v) => {
    const rank = ranks.get(v);
    if (rank !== undefined) return { thresholds, top_k: { tier: v.tier, rank, candidates: pools.get(v.tier)!.length, k: topKFor(v.tier, profile.limits.top_k_per_class) }, no_top_k: null };
    const why =
      !v.seenBefore ? 'younger than one interval'
      : v.tier === 'noise' ? 'the noise tier has no top-K'
      : v.importance < th.min_importance_score ? `tier ${v.tier} (importance ${v.importance}) below min importance ${th.min_importance_score}: no top-K places`
      : `below min_share ${+(profile.limits.min_share * 100).toFixed(2)}% of the host: too idle for a top-K place`;
    return { thresholds, top_k: null, no_top_k: why };
  };
}
