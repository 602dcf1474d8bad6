/**
 * Top-K per tier with hysteresis (SPEC, "Profiles", selection rule 4): the K highest composites of a
 * tier get their own series; to spare the churn of new series, an incumbent keeps its place unless
 * a challenger's composite beats its own by 25%.
 */

/** The classes of `top_k_per_class`: web = web_server and message_queue, app = application. */
export function topKClass(tier: string): string {
  switch (tier) {
    case 'web_server':
    case 'message_queue':
      return 'web';
    case 'application':
      return 'app';
    default:
      return tier;
  }
}

export function topKFor(tier: string, perClass: Record<string, number>): number {
  return perClass[topKClass(tier)] ?? perClass.other ?? 0;
}

export interface Candidate {
  composite: number;
  incumbent: boolean;
}

export const HYSTERESIS = 1.25;

/**
 * Chooses at most k candidates; returns the chosen ones. Sorts `candidates` in place by composite,
 * highest first (ties keep their order): a candidate's rank is its place there. A challenger within
 * the first k that is not chosen was held out by an incumbent's margin.
 */
export function chooseTopK<T extends Candidate>(candidates: T[], k: number): T[] {
  candidates.sort((a, b) => b.composite - a.composite);
  if (k <= 0) return [];
  // The k strongest incumbents keep their places for now; the rest challenge them, strongest first.
  const chosen: T[] = [];
  const challengers: T[] = [];
  for (const c of candidates) (c.incumbent && chosen.length < k ? chosen : challengers).push(c);
  let next = 0;
  while (chosen.length < k && next < challengers.length) chosen.push(challengers[next++]!);
  // Remaining challengers displace the weakest incumbent only by a clear margin.
  while (next < challengers.length) {
    const challenger = challengers[next++]!;
    let weakest = -1;
    for (let i = 0; i < chosen.length; i++) {
      if (chosen[i]!.incumbent && (weakest < 0 || chosen[i]!.composite < chosen[weakest]!.composite)) weakest = i;
    }
    if (weakest < 0 || challenger.composite <= chosen[weakest]!.composite * HYSTERESIS) break;
    chosen[weakest] = challenger;
  }
  return chosen;
}
