/** `nrdot-plus-ctl config validate|show` and `profile list`, as a user runs them. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { CTL, run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-cli-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// No config file anywhere: the embedded defaults (the test may run as root, whose default is /etc).
const env = { ...process.env, NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' };

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('nrdot-plus-ctl config', () => {
  it('validates the embedded defaults when there is no file', async () => {
    const r = await run(CTL, ['config', 'validate'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /embedded defaults are in force \(valid, 5 profiles/);
  });

  it('names the file, field path and line of a bad value, exit 1, no stack trace', async () => {
    const bad = file('bad.yaml', 'profiles:\n  balanced:\n    thresholds:\n      cpu_threshold_percent: lots\n');
    const r = await run(CTL, ['config', 'validate', '--config', bad], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${bad}:4: profiles\\.balanced\\.thresholds\\.cpu_threshold_percent: .*expected number`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const viaEnv = await run(CTL, ['config', 'validate'], { env: { ...env, NRDOT_CONFIG: bad } });
    assert.equal(viaEnv.code, 1);
    const missing = await run(CTL, ['config', 'validate', '--config', join(dir, 'nope.yaml')], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.yaml: no such file/);
  });

  it('shows the effective configuration with the user file merged and secrets redacted', async () => {
    const mine = file('mine.yaml', 'cost_model: { billing_model: datapoints }\nwebhooks: { rollback: { url: "http://127.0.0.1:9/x", secret: "hunter2" } }\n');
    const r = await run(CTL, ['config', 'show', '--config', mine], { env });
    assert.equal(r.code, 0, r.stderr);
    const shown = parse(r.stdout);
    assert.equal(shown.cost_model.billing_model, 'datapoints');
    assert.equal(shown.cost_model.per_gb, 0.3);
    assert.equal(shown.webhooks.rollback.secret, '***');
    assert.ok(!r.stdout.includes('hunter2'));
    const j = await run(CTL, ['config', 'show', '--json', '--config', mine], { env });
    assert.equal(JSON.parse(j.stdout).profiles.balanced.limits.max_series_per_host, 5000);
  });
});

describe('nrdot-plus-ctl profile list', () => {
  it('lists the built-in and custom profiles with their key parameters', async () => {
    const mine = file('profiles.yaml', 'custom_profiles: { weekend: { extends: aggressive, limits: { max_series_per_host: 800 } } }\n');
    const r = await run(CTL, ['profile', 'list', '--config', mine], { env });
    assert.equal(r.code, 0, r.stderr);
    // Headers wrap at their words to fit 120 columns in a pipe.
    assert.match(r.stdout, /^\s+min\s+CPU\s+RSS\s+IO\s+max\s+retention\n^profile\s+importance\s+%\s+MB\s+KB\/s\s+series\s+min\s+rollup\s+top-K per class\s+description$/m);
    assert.match(r.stdout, /^balanced\s+0\.5\s+10\s+512\s+1000\s+5000\s+15/m);
    // No agent runs here: none is in force (no star), and the configured default is named apart.
    assert.ok(!r.stdout.includes(' *'), r.stdout);
    assert.match(r.stdout, /^no agent is running here \(nrdot-plus-ctl status\), so no profile is in force\nconfigured default \(state\.active_profile\): balanced$/m);
    assert.match(r.stdout, /^weekend\s+0\.7\s+20\s+1024\s+5000\s+800\s+5\s+tier\b/m);
    const j = await run(CTL, ['profile', 'list', '--json'], { env });
    const names = (JSON.parse(j.stdout).profiles as Array<{ name: string }>).map((p) => p.name);
    assert.deepEqual(names, ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency']);
  });
});
