/**
 * `node dist/bench/store.js [--json]`: what the state store costs the agent per interval.
 *
 * A store in a temporary directory is filled with a week of intervals at 10 s (60 480 KPI rows, the
 * raw retention, and the four default shadow profiles' rows beside each), then measured as the
 * agent uses it: one recordKpis and one recordShadowKpis per interval, one savePipelineState of a
 * 1 MiB state (about a 1000-process host's), the dashboard's reads and `profile compare`'s.
 * Wall time per call (the store is synchronous: wall time is the agent's time), median, p99 and max.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StateStore } from '../src/store/index.js';
import { kpi } from '../src/store/testdata/kpi.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

interface Figures {
  calls: number;
  median_us: number;
  p99_us: number;
  max_us: number;
}

function measure(calls: number, fn: (i: number) => void): Figures {
  const us: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    fn(i);
    us.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  us.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(us[Math.min(us.length - 1, Math.floor(q * us.length))]! * 10) / 10;
  return { calls, median_us: at(0.5), p99_us: at(0.99), max_us: at(1) };
}

const dir = mkdtempSync(join(tmpdir(), 'nrdot-bench-store-'));
try {
  const store = StateStore.open(dir);
  const t0 = 1_709_251_200;
  const week = 7 * 8640;
  let i = 0;
  const row = (): ReturnType<typeof kpi> => kpi(t0 + 10 * i++, { series_exported: 600 + (i % 97) });
  const SHADOWS = ['conservative', 'aggressive', 'minimal', 'emergency'];
  const shadows = (time: number): ReturnType<typeof kpi>[] => SHADOWS.map((profile, k) => kpi(time, { profile, cost_per_hour_optimized: 0.01 * (k + 1) }));
  const fill = measure(week, () => {
    const r = row();
    store.recordKpis(r);
    store.recordShadowKpis(shadows(r.time));
  });
  const record = measure(1000, () => store.recordKpis(row()));
  const recordShadows = measure(1000, () => store.recordShadowKpis(shadows(t0 + 10 * i++)));
  const state = randomBytes(1 << 20);
  const save = measure(200, (n) => store.savePipelineState(state, { timestamp: t0 + n, source: 'procfs:/proc' }));
  const load = measure(50, () => store.loadPipelineState());
  const day = measure(20, () => store.kpiHistory({ resolution: 'raw', since: t0 + 10 * i - 86_400 }));
  const hours = measure(20, () => store.kpiHistory({ resolution: 'hour' }));
  const now = t0 + 10 * i;
  const compareDay = measure(10, () => store.compareProfiles({ since: now - 86_400 }));
  const compareWeek = measure(5, () => store.compareProfiles({ since: now - 7 * 86_400 }));
  store.close();
  const result = {
    recordKpis_fill_week: fill,
    recordKpis: record,
    recordShadowKpis_4_profiles: recordShadows,
    savePipelineState_1MiB: save,
    loadPipelineState_1MiB: load,
    kpiHistory_raw_last_day: day,
    kpiHistory_hour_week: hours,
    compareProfiles_day: compareDay,
    compareProfiles_week: compareWeek,
    file_bytes: statSync(join(dir, 'state.db')).size,
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    for (const [name, f] of Object.entries(result)) {
      if (typeof f === 'number') console.log(`${name.padEnd(28)} ${(f / 1e6).toFixed(1)} MB`);
      else console.log(`${name.padEnd(28)} median ${f.median_us} us, p99 ${f.p99_us} us, max ${f.max_us} us (${f.calls} calls)`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
