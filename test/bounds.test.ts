/**
 * Bounds on what flags, variables and the configuration file may ask for, as a user meets them: the
 * real agent and ctl refuse a duration out of range (exit 2 naming the flag or variable, exit 1 with
 * file:line for the file) instead of running a busy loop or a timer Node cuts to 1 ms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NO_PROXY_ENV } from './agent-process.js';
import { AGENT, CTL, run, type RunResult } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-bounds-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function agent(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(AGENT, ['--once', ...args], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: mkdtempSync(join(dir, 'data-')), NRDOT_CONFIG: '', NRDOT_HTTP_ADDR: '127.0.0.1:0', ...env } });
}

function refused(r: RunResult, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at |TimeoutOverflowWarning/);
}

describe('duration bounds', () => {
  it('refuses intervals and timeouts out of range in flags and variables: exit 2, named', async () => {
    refused(await agent([], { NRDOT_COLLECTION_INTERVAL: '1e9' }), 2, /NRDOT_COLLECTION_INTERVAL: must be from 1 s to 1 d \(got "1e9"/);
    refused(await agent(['--interval', '1e9']), 2, /--interval.*must be a number of seconds from 1 to 86400/);
    refused(await agent([], { NRDOT_CHECK_INTERVAL: '1e10' }), 2, /NRDOT_CHECK_INTERVAL: must be from 1 s to 1 d/);
    refused(await agent([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_TIMEOUT: '100000000000' }), 2, /OTEL_EXPORTER_OTLP_TIMEOUT: must be a number of milliseconds from 1 to 300000/);
    refused(await run(CTL, ['snapshot', '--interval', '1e9', '--count', '1'], { env: { ...process.env, NRDOT_DATA_DIR: dir } }), 2, /--interval.*from 0 to 86400/);
    refused(await run(CTL, ['snapshot', '--count', '1'], { env: { ...process.env, NRDOT_DATA_DIR: dir, NRDOT_COLLECTION_INTERVAL: '1e9' } }), 2, /NRDOT_COLLECTION_INTERVAL: must be a number of seconds from 1 to 86400/);
  });

  it('refuses durations out of range in the configuration file: exit 1, file:line and field', async () => {
    const file = join(dir, 'long.yaml');
    writeFileSync(file, 'cost_model:\n  collection_interval_seconds: 1000000000\nexporters:\n  otlp:\n    retry: { initial_interval: 1s, max_interval: 30d }\n');
    const r = await agent([], { NRDOT_CONFIG: file });
    refused(r, 1, new RegExp(`${file}:2: cost_model\\.collection_interval_seconds: must be from 1 s to 1 d`));
    const v = await run(CTL, ['config', 'validate', '--config', file], { env: { ...process.env, NRDOT_DATA_DIR: dir } });
    refused(v, 1, new RegExp(`${file}:2: cost_model\\.collection_interval_seconds: must be from 1 s to 1 d`));
    writeFileSync(file, 'exporters:\n  otlp:\n    retry: { initial_interval: 1s, max_interval: 30d }\n    splay: 2h\n');
    refused(await agent([], { NRDOT_CONFIG: file }), 1, new RegExp(`${file}:3: exporters\\.otlp\\.retry\\.max_interval: must be from 1 ms to 1 h`));
  });

  it('refuses a bad OTLP endpoint or header variable with exit 2, naming the variable', async () => {
    refused(await agent([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'garbage' }), 2, /^nrdot-plus: OTEL_EXPORTER_OTLP_ENDPOINT: not a URL/m);
    const header = await agent([], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_HEADERS: 'x-token=secret-value%0Ainjected' });
    refused(header, 2, /OTEL_EXPORTER_OTLP_HEADERS: header "x-token": its value has characters a header cannot carry/);
    assert.ok(!header.stderr.includes('secret-value'));
  });
});
