/** `nrdot-plus-ctl simulate` and `explain` on a recording of this host, as a user runs them. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { CTL, run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-cli-sim-'));
const recording = join(dir, 'host.ndjson.gz');
const env = { ...process.env, NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' };
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  const r = await run(CTL, ['snapshot', '--count', '3', '--interval', '1', '-o', recording]);
  assert.equal(r.code, 0, r.stderr);
});

const KEYS = [
  'profile', 'intervals', 'datapoints_baseline', 'datapoints_exported', 'reduction_datapoints', 'bytes_baseline', 'bytes_exported',
  'reduction_bytes', 'coverage_critical_min', 'visibility_cpu_mean', 'totals_error_max', 'cost_per_month_baseline', 'cost_per_month_optimized',
];

describe('nrdot-plus-ctl simulate', () => {
  it('compares every profile with the baseline, as a table and as JSON', async () => {
    const table = await run(CTL, ['simulate', '--input', recording], { env });
    assert.equal(table.code, 0, table.stderr);
    for (const p of ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency']) assert.match(table.stdout, new RegExp(`^${p}\\s+3\\s+\\d+`, 'm'));
    // It fits 120 columns in a pipe and 80 with COLUMNS=80, and says what churn and visibility are.
    const narrow = await run(CTL, ['simulate', '--input', recording], { env: { ...env, COLUMNS: '80' } });
    for (const [text, max] of [[table.stdout, 120], [narrow.stdout, 80]] as const) {
      const widest = Math.max(...text.split('\n').map((l) => l.length));
      assert.ok(widest <= max, `${widest} columns:\n${text}`);
      assert.match(text.replace(/\n/g, ' '), /Series churn: distinct series over 24 h per series exported in an interval/);
    }
    assert.match(narrow.stdout.replace(/\n/g, ' '), /not shown, to fit 80 columns: .*totals error max/);
    const json = await run(CTL, ['simulate', '--input', recording, '--profiles', 'balanced,aggressive', '--json'], { env });
    assert.equal(json.code, 0, json.stderr);
    const { profiles } = JSON.parse(json.stdout) as { profiles: Array<Record<string, number | string | null>> };
    assert.deepEqual(profiles.map((p) => p.profile), ['balanced', 'aggressive']);
    for (const p of profiles) {
      for (const k of KEYS) assert.ok(k in p, `${k} in the JSON`);
      assert.equal(p.intervals, 3);
      assert.ok(Number(p.datapoints_exported) < Number(p.datapoints_baseline));
      assert.ok(Number(p.totals_error_max) < 0.001);
    }
    assert.ok(Number(profiles[1]!.datapoints_exported) <= Number(profiles[0]!.datapoints_exported), 'aggressive exports no more than balanced');
  });

  it('writes what would be exported as OTLP JSON lines, one request per interval', async () => {
    const out = join(dir, 'export.jsonl');
    const r = await run(CTL, ['simulate', '--input', recording, '--profile', 'balanced', '--export-file', out], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    const request = JSON.parse(lines[2]!) as { resourceMetrics: Array<{ resource: { attributes: Array<{ key: string }> }; scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }> };
    const names = request.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name)));
    assert.ok(names.includes('process.cpu.time') && names.includes('process.memory.usage') && names.includes('nrdot.profile.active'));
    assert.ok(request.resourceMetrics.some((rm) => rm.resource.attributes.some((a) => a.key === 'nrdot.rollup')));
  });

  it('rejects bad choices with exit 2 and a bad recording with exit 1, naming them', async () => {
    const unknown = await run(CTL, ['simulate', '--input', recording, '--profile', 'cheapest'], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--profile: no profile named "cheapest"/);
    const two = await run(CTL, ['simulate', '--input', recording, '--export-file', join(dir, 'x.jsonl')], { env });
    assert.equal(two.code, 2);
    assert.match(two.stderr, /--export-file: choose exactly one profile/);
    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, '{"schema":"nrdot.snapshot/v1","host":{"id":"h","name":"h","cpus":1,"memory_bytes":1,"boot_time":0},"timestamp":1,"processes":[]}\nnot json\n');
    const broken = await run(CTL, ['simulate', '--input', bad], { env });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /bad\.ndjson:2: invalid JSON/);
    const missing = await run(CTL, ['simulate'], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--input/);
  });
});

describe('nrdot-plus-ctl explain', () => {
  it('refuses impossible values with file:line, and skips snapshots out of time order with a warning', async () => {
    const snapshots = gunzipSync(readFileSync(recording)).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { timestamp: number; processes: Array<Record<string, unknown>> });
    const plain = join(dir, 'edited.ndjson');
    const spoiled = structuredClone(snapshots);
    spoiled[2]!.processes[0]!.threads = -1;
    writeFileSync(plain, spoiled.map((s) => JSON.stringify(s)).join('\n') + '\n');
    const bad = await run(CTL, ['simulate', '--input', plain, '--profiles', 'balanced'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`${plain}:3: processes\\[0\\]\\.threads must be a whole number from 0 to 4194304 \\(got -1\\)`));
    // The second snapshot again after the third: a step back in time.
    writeFileSync(plain, [...snapshots, snapshots[1]!].map((s) => JSON.stringify(s)).join('\n') + '\n');
    for (const args of [['simulate', '--input', plain, '--profiles', 'balanced', '--json'], ['explain', '1', '--input', plain]]) {
      const r = await run(CTL, args, { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^warning: ${plain}:4: timestamp [\\d.]+ is not after the previous snapshot's \\([\\d.]+\\): snapshot skipped`));
    }
    const json = await run(CTL, ['simulate', '--input', plain, '--profiles', 'balanced', '--json'], { env });
    assert.equal((JSON.parse(json.stdout) as { profiles: Array<{ intervals: number }> }).profiles[0]!.intervals, 3);
  });

  it('explains the decision for a process by name, with its numbers', async () => {
    const r = await run(CTL, ['explain', 'node', '--input', recording, '--profile', 'balanced'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^profile balanced, snapshot 3/m);
    assert.match(r.stdout, /decision: {3}(keep|rollup) \((critical|anomaly|threshold:\w+|top-k|rollup:[^)]+)/);
    assert.match(r.stdout, /usage: {6}CPU [\d.]+% of a core, RSS [\d.]+ MB/);
    const j = await run(CTL, ['explain', 'node', '--input', recording, '--at', '1', '--json'], { env });
    const parsed = JSON.parse(j.stdout) as { snapshot: number; decisions: Array<{ name: string; tier: string }> };
    assert.equal(parsed.snapshot, 1);
    assert.ok(parsed.decisions.every((d) => d.name === 'node' && d.tier === 'application'));
    const none = await run(CTL, ['explain', '999999999', '--input', recording], { env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no process with pid 999999999 in snapshot 3/);
  });

  it('says which rules a rolled-up process missed and by how much', async () => {
    const web = join(dir, 'web.ndjson.gz');
    assert.equal((await run(CTL, ['synth', '--archetype', 'web-php', '--intervals', '6', '--interval', '30', '--output', web])).code, 0);
    const j = await run(CTL, ['explain', 'php-fpm8.2', '--input', web, '--json'], { env });
    assert.equal(j.code, 0, j.stderr);
    interface Missed { thresholds: { cpu_percent: number }; top_k: { tier: string; rank: number; candidates: number; k: number } | null; why: string }
    const { decisions } = JSON.parse(j.stdout) as { decisions: Array<{ pid: number; action: string; composite: number; cpuPercent: number; missed: Missed | null }> };
    const rolled = decisions.filter((d) => d.action === 'rollup');
    assert.ok(rolled.length > 50 && rolled.every((d) => d.missed !== null && d.cpuPercent < d.missed.thresholds.cpu_percent), 'under every threshold');
    const ranked = rolled.filter((d) => d.missed!.top_k !== null);
    assert.ok(ranked.length > 0 && ranked.every((d) => d.missed!.top_k!.tier === 'application' && d.missed!.top_k!.k === 5 && d.missed!.top_k!.rank > 5));
    // The rank is by composite among the candidates: a higher composite ranks first.
    const [a, b] = [...ranked].sort((x, y) => y.composite - x.composite);
    assert.ok(a!.missed!.top_k!.rank < b!.missed!.top_k!.rank);
    const r = await run(CTL, ['explain', String(a!.pid), '--input', web], { env });
    assert.match(r.stdout, /missed: {5}CPU [\d.]+% < 10%, RSS [\d.]+ MB < \d+ MB, IO [\d.]+ KB\/s < 1000 KB\/s; composite [\d.]+%, rank \d+ of \d+ in application, top-5\n/);
    const idle = rolled.find((d) => d.missed!.top_k === null)!;
    assert.match((await run(CTL, ['explain', String(idle.pid), '--input', web], { env })).stdout, /; composite [\d.]+%, below min_share 0\.5% of the host: too idle for a top-K place\n/);
  });
});
