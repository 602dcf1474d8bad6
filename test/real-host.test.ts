/**
 * A real host: PostgreSQL with pgbench clients, nginx with workers and redis, from Debian's
 * packages, recorded with `snapshot` and replayed with `simulate` and `explain`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRecording } from '../src/snapshot/recording.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { servicesUnavailable, startServices, type RunningServices } from './realhost/services.js';
import { CTL, run } from './run.js';

const skip = servicesUnavailable();
const CLIENTS = 40;
const dir = mkdtempSync(join(tmpdir(), 'nrdot-realhost-rec-'));
const recording = join(dir, 'realhost.ndjson.gz');
const env = { ...process.env, NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' };
let services: RunningServices | null = null;
let last: Snapshot | null = null;

describe('a real database and web host', { skip }, () => {
  before(async () => {
    services = await startServices(CLIENTS, 120);
    // Eight snapshots, 3 s apart, while the clients are connected.
    const r = await run(CTL, ['snapshot', '--count', '8', '--interval', '3', '-o', recording]);
    assert.equal(r.code, 0, r.stderr);
    for await (const s of readRecording(recording)) last = s;
  });
  after(async () => {
    await services?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees the postmaster, its background workers, the client backends, nginx workers and redis', () => {
    const ps = last!.processes;
    const backends = ps.filter((p) => p.name === 'postgres' && /\(\d+\)/.test(p.cmdline));
    assert.ok(backends.length >= CLIENTS, `${backends.length} client backends`);
    assert.ok(ps.some((p) => p.name === 'postgres' && /checkpointer/.test(p.cmdline)));
    assert.ok(ps.filter((p) => p.name === 'nginx').length >= 5);
    assert.ok(ps.some((p) => p.name === 'redis-server'));
  });

  it('keeps the server processes as critical and rolls the client backends up as db_session', async () => {
    const r = await run(CTL, ['explain', 'postgres', '--input', recording, '--profile', 'balanced', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const { decisions } = JSON.parse(r.stdout) as { decisions: Array<{ pid: number; tier: string; action: string; reason: string }> };
    const byPid = new Map(last!.processes.map((p) => [p.pid, p]));
    const server = decisions.filter((d) => !/\(\d+\)/.test(byPid.get(d.pid)!.cmdline));
    const sessions = decisions.filter((d) => /\(\d+\)/.test(byPid.get(d.pid)!.cmdline));
    assert.ok(server.length >= 5, 'postmaster and background workers');
    for (const d of server) assert.deepEqual([d.tier, d.action, d.reason], ['database', 'keep', 'critical'], `pid ${d.pid}`);
    assert.ok(sessions.every((d) => d.tier === 'db_session'));
    assert.ok(sessions.filter((d) => d.action === 'rollup').length >= CLIENTS - 10, 'most client backends are rolled up');
  });

  it('cuts datapoints and billed bytes as on the synthetic hosts, with totals exact and every critical process kept', async () => {
    const r = await run(CTL, ['simulate', '--input', recording, '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const { profiles } = JSON.parse(r.stdout) as { profiles: Array<Record<string, number | null> & { profile: string }> };
    const floor: Record<string, number> = { conservative: 0.65, balanced: 0.85, aggressive: 0.88 };
    for (const p of profiles) {
      assert.equal(p.coverage_critical_min, 1, `${p.profile}: critical coverage`);
      assert.ok(p.totals_error_max! < 0.001, `${p.profile}: totals`);
      const min = floor[p.profile];
      if (min !== undefined) {
        assert.ok(p.reduction_datapoints! >= min, `${p.profile}: datapoints -${(p.reduction_datapoints! * 100).toFixed(1)}% (at least ${min * 100}%)`);
        assert.ok(p.reduction_bytes! >= min, `${p.profile}: billed bytes -${(p.reduction_bytes! * 100).toFixed(1)}% (at least ${min * 100}%)`);
      }
    }
  });
});
