/** The agent's data path: /proc -> optimizer (active profile) -> file exporter, as a user runs it. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AGENT, logLines, run, withDataDir } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-agent-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Request {
  resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> }; scopeMetrics: Array<{ metrics: Array<{ name: string; gauge?: { dataPoints: Array<{ attributes?: Array<{ key: string; value: { stringValue?: string } }> }> } }> }> }>;
}

const attrs = (rm: Request['resourceMetrics'][number]): Record<string, unknown> =>
  Object.fromEntries(rm.resource.attributes.map((a) => [a.key, Object.values(a.value)[0]]));

describe('nrdot-plus with a file exporter', () => {
  it('writes one OTLP JSON request per interval with the profile in force, and logs the reduction', async () => {
    const out = join(dir, 'otlp.jsonl');
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, `state: { active_profile: aggressive }\nexporters: { file: { path: ${JSON.stringify(out)}, max_mb: 10 } }\n`);
    const child = spawn(process.execPath, [AGENT, '--config', config, '--interval', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: withDataDir({ ...process.env, NRDOT_HTTP_ADDR: '127.0.0.1:0' }),
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const watcher = watch(dir);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`agent exited with ${code}: ${stderr}`)));
        const check = (): void => {
          try {
            if (readFileSync(out, 'utf8').split('\n').length > 2) return resolve();
          } catch {
            // not yet written
          }
          watcher.once('change', check);
        };
        check();
      });
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      assert.equal((await exited)[0], 0);
    } finally {
      watcher.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const requests = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Request);
    assert.ok(requests.length >= 2);
    for (const r of requests) {
      const self = r.resourceMetrics.find((rm) => attrs(rm)['service.name'] === 'nrdot-plus')!;
      const active = self.scopeMetrics[0]!.metrics.find((m) => m.name === 'nrdot.profile.active')!;
      assert.equal(active.gauge!.dataPoints[0]!.attributes![0]!.value.stringValue, 'aggressive');
      assert.ok(r.resourceMetrics.some((rm) => attrs(rm)['nrdot.rollup'] === true), 'rollups are exported');
      assert.ok(r.resourceMetrics.every((rm) => !('nrdot.profile' in attrs(rm))));
    }
    const line = logLines(stderr).find((l) => typeof l.datapoints_exported === 'number')!;
    assert.equal(line.profile, 'aggressive');
    assert.ok(Number(line.datapoints_exported) < Number(line.datapoints_baseline));
    assert.match(String(line.msg), /; aggressive: \d+ of \d+ datapoints \(-[\d.]+%\)$/);
  });

  it('rejects an unknown --profile and a broken configuration, naming them', async () => {
    const env = { ...process.env, NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' };
    const p = await run(AGENT, ['--once', '--profile', 'cheapest'], { env });
    assert.equal(p.code, 2);
    assert.match(p.stderr, /--profile: no profile named "cheapest"/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'profiles:\n  balanced:\n    limits: { max_series_per_host: many }\n');
    const c = await run(AGENT, ['--once', '--config', bad], { env });
    assert.equal(c.code, 1);
    assert.match(c.stderr, /bad\.yaml:3: profiles\.balanced\.limits\.max_series_per_host/);
    const nowhere = join(dir, 'nowhere.yaml');
    writeFileSync(nowhere, `exporters: { file: { path: ${JSON.stringify(join(dir, 'no/such/dir/otlp.jsonl'))} } }\n`);
    const f = await run(AGENT, ['--once', '--config', nowhere], { env });
    assert.equal(f.code, 1);
    assert.match(f.stderr, /exporters\.file\.path .*no\/such\/dir\/otlp\.jsonl: ENOENT/);
  });
});
