/**
 * The OTLP exporter on the networks users have: HTTPS with a private CA
 * (OTEL_EXPORTER_OTLP_CERTIFICATE), and an HTTPS proxy (HTTPS_PROXY, NO_PROXY). Certificates come
 * from the openssl command; the proxy is a small CONNECT proxy on loopback.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_PROXY_ENV } from './agent-process.js';
import { OtlpReceiver } from './otlp-receiver.js';
import { AGENT, logLines, run } from './run.js';

const OPENSSL = '/usr/bin/openssl';
const skip = existsSync(OPENSSL) ? undefined : 'openssl is not installed (apt-get install openssl)';
const dir = mkdtempSync(join(tmpdir(), 'nrdot-otlp-net-'));
const config = join(dir, 'optimization.yaml');
const ca = join(dir, 'ca.pem');
let tls: { key: string; cert: string };

before(() => {
  if (skip) return;
  writeFileSync(config, 'exporters:\n  otlp:\n    splay: 0\n    retry: { initial_interval: 100ms, max_interval: 400ms }\n');
  const ssl = (...args: string[]): void => void execFileSync(OPENSSL, args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=nrdot test CA');
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  tls = { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.pem'), 'utf8') };
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A CONNECT proxy on loopback that records the tunnels it opened. */
async function startProxy(): Promise<{ server: Server; url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels };
}

function agentOnce(env: Record<string, string>) {
  return run(AGENT, ['--once', '--config', config], { env: { ...process.env, ...NO_PROXY_ENV, ...env } });
}

describe('OTLP over TLS and proxies', { skip }, () => {
  it('refuses an unknown CA, keeps the batch, and delivers it once OTEL_EXPORTER_OTLP_CERTIFICATE names the CA', async () => {
    const r = await OtlpReceiver.start({ tls });
    try {
      const dataDir = join(dir, 'ca-data');
      const refused = await agentOnce({ NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url });
      assert.equal(refused.code, 0);
      const warn = logLines(refused.stderr).find((l) => /OTLP export to .* failed/.test(String(l.msg)));
      assert.match(String(warn?.msg), /certificate/i);
      assert.equal(r.requests.length, 0);
      const trusted = await agentOnce({ NRDOT_DATA_DIR: dataDir, OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_CERTIFICATE: ca });
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(r.requests.length, 2, 'the queued interval and the new one');
    } finally {
      await r.close();
    }
  });

  it('goes through HTTPS_PROXY, and around it for hosts in NO_PROXY', async () => {
    const r = await OtlpReceiver.start({ tls });
    const proxy = await startProxy();
    try {
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_CERTIFICATE: ca, HTTPS_PROXY: proxy.url };
      const proxied = await agentOnce({ ...env, NRDOT_DATA_DIR: join(dir, 'proxy-data') });
      assert.equal(proxied.code, 0, proxied.stderr);
      assert.equal(r.requests.length, 1);
      assert.deepEqual(proxy.tunnels, [`127.0.0.1:${r.port}`]);
      const direct = await agentOnce({ ...env, NO_PROXY: 'localhost,127.0.0.1', NRDOT_DATA_DIR: join(dir, 'no-proxy-data') });
      assert.equal(direct.code, 0, direct.stderr);
      assert.equal(r.requests.length, 2);
      assert.equal(proxy.tunnels.length, 1, 'NO_PROXY bypasses the proxy');
    } finally {
      proxy.server.closeAllConnections();
      proxy.server.close();
      await r.close();
    }
  });
});
