/**
 * No secret of the agent's configuration reaches a log, status, the API or an archive, even when a
 * backend or a webhook receiver echoes it back in some other form: real agents, real echoing servers
 * on loopback, the real CLI, the real log file and archive.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV } from './agent-process.js';
import { CTL, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-secrets-'));
after(() => rmSync(root, { recursive: true, force: true }));

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const ctl = (dir: string, args: string[]): Promise<RunResult> => run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });

/** A server on loopback that answers every request with `answer`, and counts them. */
async function echoServer(answer: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ port: number; requests: IncomingMessage[]; close: () => Promise<void> }> {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push(req);
      answer(req, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Each secret in `text`, as found; none expected. */
function leaks(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}

/** Every file of a rollback archive, extracted, as text (state.db too: its strings are plain in the file). */
function archiveText(archive: string): string {
  const out = mkdtempSync(join(root, 'extract-'));
  execFileSync('tar', ['-xzf', archive, '-C', out]);
  return readdirSync(out, { recursive: true })
    .map((f) => join(out, String(f)))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, 'latin1'))
    .join('\n');
}

describe('an OTLP backend that echoes the request, and an endpoint with a query string', () => {
  const KEY = 'eu01xxAbCdEf0123456789SecretKeyNRAL';
  const TOKEN = 'BearerToken-0123456789abcdef';
  const QUERY = 'QuerySecret-42xyz';
  const secrets = [KEY, KEY.toLowerCase(), KEY.toUpperCase(), b64(KEY), TOKEN, TOKEN.toLowerCase(), b64(TOKEN), QUERY, encodeURIComponent(`k=${QUERY}`)];
  const dir = join(root, 'otlp');
  let backend: Awaited<ReturnType<typeof echoServer>>;
  let agent: AgentProcess;

  before(async () => {
    // The first request is refused for good (403), the next ones are retried (503): both quote what the backend got.
    backend = await echoServer((req, res, n) => {
      const key = String(req.headers['api-key']);
      const token = String(req.headers.authorization).replace(/^Bearer /, '');
      const body = `denied ${req.url}; token ${token}; key ${key.toLowerCase()} (${b64(key)}); headers ${JSON.stringify({ authorization: req.headers.authorization, 'api-key': key })}`;
      res.writeHead(n === 0 ? 403 : 503, { 'content-type': 'text/plain' }).end(body);
    });
    const config = join(root, 'otlp.yaml');
    writeFileSync(config, 'exporters:\n  otlp:\n    splay: 0\n    retry: { initial_interval: 100ms, max_interval: 400ms }\n');
    agent = AgentProcess.start(['--interval', '1', '--config', config], {
      NRDOT_DATA_DIR: dir,
      NEW_RELIC_LICENSE_KEY: KEY,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${TOKEN}`,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${backend.port}/v1/metrics?k=${QUERY}`,
    });
    await agent.waitForLog((l) => l.level === 50 && /OTLP export rejected/.test(String(l.msg)), 30_000, 'the 403');
    await agent.waitForLog((l) => l.level === 40 && /OTLP export to .* failed: 503/.test(String(l.msg)), 30_000, 'a 503');
  });
  after(async () => {
    try {
      await agent.stop();
    } finally {
      await backend.close();
    }
  });

  it('sends the key, the token and the query, and logs none of them in any form the backend echoes', () => {
    const got = backend.requests[0]!;
    assert.equal(got.headers['api-key'], KEY);
    assert.equal(got.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(got.url, `/v1/metrics?k=${QUERY}`);
    const rejected = agent.lines.find((l) => /OTLP export rejected/.test(String(l.msg)))!;
    assert.match(String(rejected.msg), /403 \(denied \/v1\/metrics\?\*\*\*; token \*\*\*; key \*\*\* \(\*\*\*\)/, 'the answer is quoted, scrubbed');
    assert.equal(rejected.otlp_endpoint, `http://127.0.0.1:${backend.port}/v1/metrics?***`);
    assert.deepEqual(leaks(agent.stderr, secrets), [], agent.stderr);
    assert.deepEqual(leaks(readFileSync(join(dir, 'logs', 'nrdot-plus.log'), 'utf8'), secrets), [], 'the log file');
  });

  it('shows the endpoint with its query masked, and the last error scrubbed, in status and the API', async () => {
    const human = await ctl(dir, ['status']);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(human.stdout.includes(`http://127.0.0.1:${backend.port}/v1/metrics?***`), human.stdout);
    const json = await ctl(dir, ['status', '--json']);
    const status = JSON.parse(json.stdout) as { export: { otlp: { endpoint: string; failing: boolean; last_error: string } } };
    assert.equal(status.export.otlp.endpoint, `http://127.0.0.1:${backend.port}/v1/metrics?***`);
    assert.equal(status.export.otlp.failing, true);
    assert.match(status.export.otlp.last_error, /503 \(denied/);
    const started = await agent.waitForLog((l) => typeof l.listen === 'string', 10_000, 'the listener');
    const api = await (await fetch(`http://${String(started.listen)}/api/v1/status`)).text();
    for (const text of [human.stdout, json.stdout, api]) assert.deepEqual(leaks(text, secrets), [], text);
  });

  it('archives state and logs on rollback without any of them', async () => {
    const r = await ctl(dir, ['rollback', '--reason', 'echoing backend']);
    assert.equal(r.code, 0, r.stderr);
    const text = archiveText(/archive: (\S+\.tar\.gz)/.exec(r.stdout)![1]!);
    assert.ok(text.includes('OTLP export rejected'), 'the log is in the archive');
    assert.deepEqual(leaks(text, secrets), []);
  });
});

describe('a webhook URL with credentials, added by a reload', () => {
  it('logs neither the password nor the Basic authorization the receiver echoes', async () => {
    const USER = 'hookuser';
    const PASS = 'HookPass-0123456789';
    const receiver = await echoServer((req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad credentials: Authorization: ${String(req.headers.authorization)} (${PASS.toLowerCase()})`);
    });
    const dir = join(root, 'webhook');
    const config = join(root, 'webhook.yaml');
    writeFileSync(config, 'cost_model: { billing_model: datapoints }\n');
    const agent = AgentProcess.start(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dir });
    try {
      await agent.waitForLog((l) => typeof l.processes === 'number', 30_000, 'the first interval');
      writeFileSync(config, `cost_model: { billing_model: datapoints }\nwebhooks:\n  rollback: { url: "http://${USER}:${PASS}@127.0.0.1:${receiver.port}/" }\n`);
      const reload = await ctl(dir, ['config', 'reload']);
      assert.equal(reload.code, 0, reload.stderr);
      const r = await ctl(dir, ['rollback', '--reason', 'webhook test']);
      assert.equal(r.code, 0, r.stderr);
      const refused = await agent.waitForLog((l) => l.webhook_event === 'rollback' && l.level === 50, 30_000, 'the refused webhook');
      assert.equal(receiver.requests[0]!.headers.authorization, `Basic ${b64(`${USER}:${PASS}`)}`, 'the credentials went as Basic authorization');
      assert.match(String(refused.msg), /refused alert \d+ with HTTP 401 \(bad credentials: Authorization: Basic \*\*\* \(\*\*\*\)\)/);
      assert.deepEqual(leaks(agent.stderr, [PASS, PASS.toLowerCase(), b64(`${USER}:${PASS}`)]), [], agent.stderr);
    } finally {
      try {
        await agent.stop();
      } finally {
        await receiver.close();
      }
    }
  });
});
