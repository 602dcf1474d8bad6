/** Figures in words shared by the agent's log line and nrdot-plus-ctl's views. */

export function formatPercent(share: number | null, digits = 1): string {
  return share === null ? 'n/a' : `${(share * 100).toFixed(digits)}%`;
}

/**
 * Why a run can export more than the baseline: the self-metrics (the agent's own figures, a few
 * dozen datapoints) are exported and billed too, and a host of a handful of processes saves less.
 */
export const ABOVE_BASELINE = "above the baseline: the agent's own self-metrics are exported and billed too, more than it saves on a host with so few processes";

/**
 * `203 of 2884 datapoints (-93.0%)`: a volume against the baseline's. Above the baseline, the
 * change is `+` and says why.
 */
export function versusBaseline(exported: number, baseline: number, unit = '', show: (n: number) => string = String): string {
  const text = `${show(exported)} of ${show(baseline)}${unit ? ` ${unit}` : ''}`;
  if (!(baseline > 0)) return text;
  const change = exported / baseline - 1;
  if (change > 0) return `${text} (+${formatPercent(change)}, ${ABOVE_BASELINE})`;
  return `${text} (${change < 0 ? '-' : ''}${formatPercent(-change)})`;
}
