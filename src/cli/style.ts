/** Colour for human output on a terminal only (never in pipes or files; NO_COLOR turns it off). */
import { formatKeyValues } from './table.js';
import { formatPercent } from '../command/words.js';

const useColour = (): boolean => process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

function wrap(code: number): (text: string) => string {
  return (text) => (useColour() ? `\x1b[${code}m${text}\x1b[0m` : text);
}

export const bold = wrap(1);
export const dim = wrap(2);
export const red = wrap(31);
export const green = wrap(32);
export const yellow = wrap(33);

/** `key  value` lines with the keys aligned, long values wrapped to the terminal's width (table.ts). */
export function keyValues(rows: Array<[string, string]>, width?: number): string {
  return formatKeyValues(rows, bold, width);
}

export function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Unix seconds as ISO 8601 UTC, without milliseconds when they are zero. */
export function formatTime(t: number): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Decimals for money figures shown together (a column, or one line): enough for the smallest one
 * that is not zero, so that every figure of the column has the same precision.
 */
export function moneyDigits(values: readonly number[]): number {
  const smallest = Math.min(...values.filter((v) => v > 0).map(Math.abs));
  return !Number.isFinite(smallest) || smallest >= 100 ? 0 : smallest >= 1 ? 2 : 4;
}

/** A column of amounts, each with the column's precision (moneyDigits). */
export function moneyColumn(values: readonly number[]): string[] {
  const digits = moneyDigits(values);
  return values.map((v) => v.toFixed(digits));
}

/** Dollar amounts shown together, with one precision: `$0.0036` and `$0.0963`, or `$1.20` and `$31.07`. */
export function formatUsd(values: readonly number[]): string[] {
  const digits = Math.max(2, moneyDigits(values));
  return values.map((v) => `$${v.toFixed(digits)}`);
}

/** A reduction (share of the baseline not sent): `93.0%`, or for more than the baseline `none (+100.0%)`. */
export function formatReduction(r: number | null): string {
  if (r === null) return 'n/a';
  return r >= 0 ? formatPercent(r) : `none (+${formatPercent(-r)})`;
}

/** Visibility as one figure, the smaller of CPU and memory, with both when there is room. */
export function formatVisibility(v: { visibility: number | null; visibility_cpu?: number | null; visibility_memory?: number | null }): string {
  const both = v.visibility_memory !== undefined ? ` (cpu ${formatPercent(v.visibility_cpu ?? null)}, memory ${formatPercent(v.visibility_memory)})` : '';
  return `${formatPercent(v.visibility)}${both}`;
}
