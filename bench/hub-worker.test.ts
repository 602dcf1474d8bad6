// The hub benchmark's load worker as the benchmark drives it (forked, IPC), against a minimal OpAMP
// server on loopback: agents start, follow the offered heartbeat, send KPIs to the offered endpoint,
// apply a remote config and report it, and the worker's report counts it all.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, decodeAgentToServer, encodeServerToAgent, ServerToAgentSchema } from '../src/fleet/codec.js';
import { OPAMP } from './hub-sim.js';
import type { WorkerInit, WorkerReport } from './hub-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));

test('a worker runs its agents against an OpAMP server and reports what happened', { timeout: 30_000 }, async (t) => {
  const seen = new Map<string, { messages: number; applied: string | null; full: number }>();
  let kpis = 0;
  let configOn = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/metrics') {
        kpis++;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        return;
      }
      const msg = decodeAgentToServer(Buffer.concat(chunks));
      const uid = Buffer.from(msg.instanceUid).toString('hex');
      const s = seen.get(uid) ?? { messages: 0, applied: null, full: 0 };
      seen.set(uid, s);
      s.messages++;
      if (msg.agentDescription) s.full++;
      const st = msg.remoteConfigStatus;
      if (st?.status === OPAMP.APPLIED) s.applied = Buffer.from(st.lastRemoteConfigHash).toString('hex');
      const { port } = server.address() as AddressInfo;
      const reply = create(ServerToAgentSchema, {
        instanceUid: msg.instanceUid,
        // The second message of each agent is answered with "tell me everything".
        flags: s.messages === 2 ? OPAMP.ReportFullState : 0n,
        connectionSettings: { hash: new Uint8Array([1]), opamp: { heartbeatIntervalSeconds: 1n }, ownMetrics: { destinationEndpoint: `http://127.0.0.1:${port}/v1/metrics` } },
        ...(configOn && s.applied === null ? { remoteConfig: { configHash: new Uint8Array([0xbe, 0xef]), config: { configMap: {} } } } : {}),
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(encodeServerToAgent(reply));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const worker = fork(join(HERE, 'hub-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.after(() => worker.kill('SIGKILL'));
  const ask = async <T>(msg: object, type: string): Promise<T> => {
    const reply = new Promise<T>((resolve) => {
      const on = (m: { type: string }): void => {
        if (m.type === type) {
          worker.off('message', on);
          resolve(m as T);
        }
      };
      worker.on('message', on);
    });
    worker.send(msg);
    return reply;
  };
  const { port } = server.address() as AddressInfo;
  const init: WorkerInit = { hubUrl: `http://127.0.0.1:${port}`, first: 0, count: 8, defaultHeartbeatS: 30, kpiIntervalS: 1, spreadMs: 200, timeoutMs: 5000, headers: {} };
  await ask({ type: 'init', ...init }, 'ready');
  const until = async (probe: () => boolean, what: string): Promise<void> => {
    for (const deadline = Date.now() + 15_000; !probe(); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    }
  };
  // The offered 1 s heartbeat replaces the default 30 s: a third message within seconds.
  await until(() => seen.size === 8 && [...seen.values()].every((s) => s.messages >= 4), 'polls at the offered heartbeat');
  assert.ok([...seen.values()].every((s) => s.full >= 2), 'full state at first and again when asked');
  await until(() => kpis >= 8, 'KPIs at the offered endpoint');
  configOn = true;
  await until(() => [...seen.values()].every((s) => s.applied === 'beef'), 'APPLIED reported');
  const report = await ask<WorkerReport & { type: string }>({ type: 'report' }, 'report');
  assert.equal(report.started, 8);
  assert.equal(report.withKpiEndpoint, 8);
  assert.deepEqual(report.heartbeats, { 1: 8 });
  assert.deepEqual(report.total.errors, {});
  assert.equal(report.applied.length, 8);
  assert.ok(report.applied.every((a) => a.hash === 'beef'));
  assert.equal(report.applied.filter((a) => a.role === 'db').length, 2, 'agents 0 and 4 of 8 are role=db');
  assert.ok(report.window.latency.opamp_heartbeat.count > 0 && report.window.latency.otlp.count > 0);
  assert.ok(report.window.fullStateRequests >= 8);
  // A reset starts an empty window; the totals go on.
  await ask({ type: 'reset' }, 'reset');
  const after = await ask<WorkerReport & { type: string }>({ type: 'report' }, 'report');
  assert.deepEqual(after.applied, [], 'applied configs are reported once');
  assert.ok(after.window.latency.opamp_heartbeat.count < report.window.latency.opamp_heartbeat.count);
  assert.ok(after.total.sent >= report.total.sent);
});
