// Interop: an OpAMP client nobody here wrote (@elastic/opamp-client-node, plain HTTP) against the
// real nrdot-plus-hub process, driven with nrdot-plus-ctl as a user would: it is listed with its
// description (a selector on its non-identifying attributes finds it), receives a configuration
// applied with `fleet config apply`, and its APPLIED status shows in `fleet agents`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import elastic from '@elastic/opamp-client-node';
import { AgentCapabilities, type AgentConfigFile } from '../src/fleet/codec.js';
import { NO_PROXY_ENV } from './agent-process.js';
import { until } from './hub-harness.js';
import { HubProcess, hubDataDir } from './hub-process.js';
import { CTL, run, type RunResult } from './run.js';

const { createOpAMPClient, RemoteConfigStatuses } = elastic;
const TOKEN = 'interop-admin-token';

interface AgentView {
  instance_uid: string;
  status: string;
  config_status: string;
  host: string | null;
  version: string | null;
  configs: Array<{ name: string } | string>;
}

describe('interop: @elastic/opamp-client-node against nrdot-plus-hub', () => {
  let hub: HubProcess;
  let url: string;
  const dir = hubDataDir();
  const ctl = (...args: string[]): Promise<RunResult> =>
    run(CTL, ['fleet', ...args], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_HUB_URL: url, NRDOT_HUB_TOKEN: TOKEN } });
  const agents = async (selector: string): Promise<AgentView[]> => {
    const r = await ctl('agents', '--selector', selector, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as AgentView[];
  };

  before(async () => {
    hub = HubProcess.start(dir, { NRDOT_HUB_TOKEN: TOKEN, NRDOT_HUB_HEARTBEAT_SECONDS: '1' });
    url = await hub.url();
  });
  after(async () => {
    await hub.stop();
  });

  it('is listed by its attributes, takes a config applied with the CLI, and shows APPLIED', async () => {
    const received: { hash: string; files: Record<string, string> }[] = [];
    const client = createOpAMPClient({
      endpoint: `${url}/v1/opamp`,
      heartbeatIntervalSeconds: 0.2,
      capabilities: BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig | AgentCapabilities.AgentCapabilities_ReportsRemoteConfig),
      onMessage: ({ remoteConfig }) => {
        if (!remoteConfig) return;
        const files: Record<string, string> = {};
        for (const [name, f] of Object.entries<AgentConfigFile>(remoteConfig.config?.configMap ?? {})) files[name] = Buffer.from(f.body).toString('utf8');
        received.push({ hash: Buffer.from(remoteConfig.configHash).toString('hex'), files });
        client.setRemoteConfigStatus({ status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED, lastRemoteConfigHash: remoteConfig.configHash });
      },
    });
    client.setAgentDescription({
      identifyingAttributes: { 'service.name': 'elastic-interop', 'service.version': '1.2.3' },
      nonIdentifyingAttributes: { 'deployment.environment': 'interop', 'host.name': 'peer-1' },
    });
    client.start();
    try {
      const selector = 'deployment.environment=interop,service.name=elastic-interop';
      const [listed] = await until('the client in fleet agents --selector', async () => {
        const found = await agents(selector);
        return found.length === 1 && found[0]!.status === 'online' ? found : undefined;
      }, 10_000);
      assert.equal(listed!.host, 'peer-1');
      assert.equal(listed!.version, '1.2.3');
      assert.deepEqual(await agents('deployment.environment=prod'), [], 'a selector it does not match leaves it out');
      assert.equal(received.length, 0, 'nothing sent before a config selects it');

      const file = join(dir, 'peer-settings.json');
      writeFileSync(file, '{"sampling": 0.5}');
      const applied = await ctl('config', 'apply', file, '--name', 'peer-settings', '--selector', 'deployment.environment=interop', '--opaque');
      assert.equal(applied.code, 0, applied.stderr);
      const got = await until('the config at the client', () => received[0], 10_000);
      assert.deepEqual(got.files, { 'fleet/00-peer-settings.yaml': '{"sampling": 0.5}' });

      const view = await until('APPLIED in fleet agents', async () => {
        const [a] = await agents(selector);
        return a?.config_status === 'APPLIED' ? a : undefined;
      }, 10_000);
      assert.equal(view.instance_uid, listed!.instance_uid);
      // Applied once: over the next heartbeats the hub does not send it again.
      const seq = async (): Promise<number> => {
        const r = await ctl('agent', listed!.instance_uid, '--json');
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { sequence_num: number }).sequence_num;
      };
      const from = await seq();
      await until('three more messages from the client', async () => (await seq()) >= from + 3, 10_000);
      assert.equal(received.length, 1);
    } finally {
      await client.shutdown();
    }
  });
});
