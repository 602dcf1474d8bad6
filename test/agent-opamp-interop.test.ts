/**
 * Interop: our agent (a real process) against an OpAMP server nobody here wrote, Elastic's
 * @elastic/mockopampserver (HTTP transport only): the agent takes a remote config from it, applies
 * it, and reports the status (APPLIED with the server's hash, or FAILED with the message).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { CTL, run } from './run.js';

/** The parts of the mock server's API used here (it ships no types). */
interface AgentConfigMap {
  configMap: Record<string, { body: Buffer; contentType: string }>;
}
interface MockRequest {
  a2s?: {
    instanceUid: Uint8Array;
    sequenceNum: bigint;
    agentDescription?: { identifyingAttributes: Array<{ key: string; value?: { value: { case: string; value: unknown } } }> };
    remoteConfigStatus?: { status: number; errorMessage: string; lastRemoteConfigHash: Uint8Array };
  };
  s2a?: { remoteConfig?: { configHash: Uint8Array } };
}
interface MockServer {
  endpoint: string;
  start(): Promise<void>;
  close(): Promise<void>;
  setAgentConfigMap(map: AgentConfigMap): void;
  testGetRequests(): MockRequest[];
}
const { MockOpAMPServer } = createRequire(import.meta.url)('@elastic/mockopampserver') as {
  MockOpAMPServer: new (opts: { logLevel: string; hostname: string; port: number; testMode: boolean; agentConfigMap?: AgentConfigMap }) => MockServer;
};

const APPLIED = 1;
const FAILED = 3;
const yaml = (text: string): { body: Buffer; contentType: string } => ({ body: Buffer.from(text), contentType: 'text/yaml' });
const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

const agents: AgentProcess[] = [];
after(async () => {
  await Promise.all(agents.map((a) => a.kill9()));
});

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('interop: our agent with @elastic/mockopampserver', () => {
  it('takes a remote config from it and reports APPLIED, then FAILED for an invalid one', async () => {
    const server = new MockOpAMPServer({
      logLevel: 'warn',
      hostname: '127.0.0.1',
      port: 0,
      testMode: true,
      agentConfigMap: { configMap: { 'fleet/00-interop.yaml': yaml('control_loop:\n  target_reduction: 0.7\n') } },
    });
    await server.start();
    const dir = mkdtempSync(join(tmpdir(), 'nrdot-interop-'));
    const agent = AgentProcess.start(['--interval', '1'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_OPAMP_ENDPOINT: server.endpoint, NRDOT_TEST_OPAMP_HEARTBEAT_SECONDS: '1' });
    agents.push(agent);
    try {
      await agent.waitForLog(isInterval, 20_000, 'the first interval');
      const statuses = (): MockRequest[] => server.testGetRequests().filter((r) => r.a2s?.remoteConfigStatus);
      const offered = await until('the config offered', () => server.testGetRequests().find((r) => r.s2a?.remoteConfig), (r) => r !== undefined);
      const applied = await until('APPLIED', () => statuses().find((r) => r.a2s!.remoteConfigStatus!.status === APPLIED), (r) => r !== undefined);
      assert.deepEqual([...applied!.a2s!.remoteConfigStatus!.lastRemoteConfigHash], [...offered!.s2a!.remoteConfig!.configHash], 'the status names the hash the server sent');
      const first = server.testGetRequests()[0]!.a2s!;
      assert.equal(first.sequenceNum, 1n);
      assert.equal(first.instanceUid.length, 16);
      const name = first.agentDescription!.identifyingAttributes.find((a) => a.key === 'service.name');
      assert.equal(name?.value?.value.value, 'nrdot-plus');
      const shown = await run(CTL, ['config', 'show', '--json'], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir } });
      assert.equal((JSON.parse(shown.stdout) as { control_loop: { target_reduction: number } }).control_loop.target_reduction, 0.7);

      server.setAgentConfigMap({ configMap: { 'fleet/00-interop.yaml': yaml('control_loop:\n  target_reduction: nope\n') } });
      const failed = await until('FAILED', () => statuses().find((r) => r.a2s!.remoteConfigStatus!.status === FAILED), (r) => r !== undefined);
      assert.match(failed!.a2s!.remoteConfigStatus!.errorMessage, /fleet\/00-interop\.yaml:2: control_loop\.target_reduction/);
      const still = await run(CTL, ['config', 'show', '--json'], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir } });
      assert.equal((JSON.parse(still.stdout) as { control_loop: { target_reduction: number } }).control_loop.target_reduction, 0.7, 'the previous configuration stays');
      assert.equal(await agent.stop(), 0);
    } finally {
      await agent.kill9();
      await Promise.race([server.close(), new Promise((r) => setTimeout(r, 2000))]);
    }
  });
});
