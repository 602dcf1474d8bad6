// The JSON merges behind KPI upserts and downsampling, for SQLite: registered on the connection
// under the names the PostgreSQL migration gives its SQL functions and aggregates, so the same
// queries run on both (kpis.ts).
import type Database from 'better-sqlite3';

export type Values = Record<string, number>;

function parse(text: unknown): Values {
  if (typeof text !== 'string' || text === '') return {};
  return JSON.parse(text) as Values;
}

/** Adds b's values into a (missing ones count as 0). */
export function addInto(a: Values, b: Values): Values {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
  return a;
}

/** The smaller of a's and b's value for every key of either. */
export function minInto(a: Values, b: Values): Values {
  for (const [k, v] of Object.entries(b)) a[k] = k in a ? Math.min(a[k]!, v) : v;
  return a;
}

export function registerSqliteJson(db: Database.Database): void {
  const det = { deterministic: true };
  db.function('hub_json_add', det, (a: unknown, b: unknown) => JSON.stringify(addInto(parse(a), parse(b))));
  db.function('hub_json_min', det, (a: unknown, b: unknown) => JSON.stringify(minInto(parse(a), parse(b))));
  db.aggregate('hub_json_sum', {
    start: () => ({}) as Values,
    step: (acc: Values, v: unknown) => addInto(acc, parse(v)),
    result: (acc: Values) => JSON.stringify(acc),
  });
  db.aggregate('hub_json_least', {
    start: () => ({}) as Values,
    step: (acc: Values, v: unknown) => minInto(acc, parse(v)),
    result: (acc: Values) => JSON.stringify(acc),
  });
}
