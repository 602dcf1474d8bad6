/**
 * Why a rolled-up process was not kept, with the figures of the rules it missed (SPEC, "Profiles",
 * selection rules 3 and 4), for `explain` and `top`: its usage against each threshold (in the
 * decision itself), its rank among its tier's top-K candidates, and where it left the path to a
 * series of its own. Selection records that place on the view (`Dropped`) as it happens; this only
 * words it. Built only with the decisions, never on a profile's run for KPIs alone.
 */
import type { ProfileConfig } from '../config/index.js';
import { HYSTERESIS, topKFor } from './select.js';
import type { Dropped, Missed } from './types.js';
import type { View } from './view.js';

/**
 * Returns what a rolled-up view missed (every rolled-up view was dropped somewhere); `pools`: the
 * tiers' top-K candidates of this interval.
 */
export function missedRules(profile: ProfileConfig, pools: ReadonlyMap<string, View[]>): (v: View) => Missed {
  const th = profile.thresholds;
  const thresholds = { cpu_percent: th.cpu_threshold_percent, memory_mb: th.memory_threshold_mb, io_kb_per_sec: th.io_threshold_kb_per_sec };
  const idle = `below min_share ${+(profile.limits.min_share * 100).toFixed(2)}% of the host: too idle for a top-K place`;
  return (v) => {
    const k = topKFor(v.tier, profile.limits.top_k_per_class);
    const top_k = v.rank > 0 ? { tier: v.tier, rank: v.rank, candidates: pools.get(v.tier)!.length, k } : null;
    const dropped = v.dropped!;
    return { thresholds, top_k, dropped, why: why(dropped, v, k) };
  };

  function why(dropped: Dropped, v: View, k: number): string {
    switch (dropped) {
      case 'young':
        return 'younger than one interval';
      case 'noise':
        return 'the noise tier has no top-K';
      case 'importance':
        return `tier ${v.tier} (importance ${v.importance}) below min importance ${th.min_importance_score}: no top-K places`;
      case 'idle':
        return idle;
      case 'rank':
        return k === 0 ? `no top-K places in ${v.tier} in this profile` : `outside the top-${k} of ${v.tier}`;
      case 'incumbent':
        return `an incumbent kept its place (a challenger needs +${Math.round((HYSTERESIS - 1) * 100)}%)`;
      case 'cap':
        return 'series cap reached';
    }
  }
}
