/** A real Prometheus server (Debian's package) scrapes the agent's /metrics on loopback. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentProcess } from './agent-process.js';
import { freePort } from './run.js';

const PROMETHEUS = '/usr/bin/prometheus';
const skip = existsSync(PROMETHEUS) ? undefined : 'prometheus is not installed (apt-get install prometheus)';
const dir = mkdtempSync(join(tmpdir(), 'nrdot-prometheus-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the agent on an ephemeral port and resolves with the address it logs. */
async function startAgent(): Promise<string> {
  const agent = AgentProcess.start(['--interval', '1'], {});
  children.push(agent.child);
  return String((await agent.waitForLog((l) => typeof l.listen === 'string', 15_000, 'the listener')).listen);
}

interface QueryResult {
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function query(port: number, expr: string): Promise<QueryResult['data']['result']> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return ((await res.json()) as QueryResult).data.result;
}

describe('a real Prometheus scraping the agent', { skip }, () => {
  it('ingests the process series and the self-metrics with their types', async () => {
    const target = await startAgent();
    const port = await freePort();
    writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: nrdot\n    static_configs: [{ targets: ['${target}'] }]\n`);
    const prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    children.push(prom);
    // Prometheus reports the scrape through its API; ask until the series are there (bounded).
    let kept: QueryResult['data']['result'] = [];
    for (let i = 0; i < 150 && kept.length === 0; i++) {
      try {
        kept = await query(port, 'nrdot_process_series_kept');
      } catch {
        // not listening yet
      }
      if (kept.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(kept.length > 0, 'Prometheus ingested nrdot_process_series_kept');
    const up = await query(port, 'up{job="nrdot"}');
    assert.equal(up[0]?.value[1], '1');
    const cpu = await query(port, 'process_cpu_time_seconds_total');
    assert.ok(cpu.length > 0 && cpu.every((s) => 'state' in s.metric));
    const active = await query(port, 'nrdot_profile_active');
    assert.equal(active[0]?.metric.nrdot_profile, 'balanced');
    const meta = (await (await fetch(`http://127.0.0.1:${port}/api/v1/metadata?metric=process_cpu_time_seconds_total`)).json()) as { data: Record<string, Array<{ type: string }>> };
    assert.equal(meta.data.process_cpu_time_seconds_total?.[0]?.type, 'counter');
  });
});
