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

/** Chooses at most k candidates; returns the chosen ones. */
export function chooseTopK<T extends Candidate>(candidates: T[], k: number): T[] {
  if (k <= 0 || candidates.length === 0) return [];
  const byComposite = (a: T, b: T): number => b.composite - a.composite;
  const incumbents = candidates.filter((c) => c.incumbent).sort(byComposite).slice(0, k);
  const challengers = candidates.filter((c) => !c.incumbent || !incumbents.includes(c)).sort(byComposite);
  const chosen = [...incumbents];
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
