// Interop: an OpAMP client nobody here wrote (@elastic/opamp-client-node, plain HTTP) against our
// hub. It is listed with its description (a selector on its non-identifying attributes finds it),
// receives a fleet config put in the store, and its APPLIED status is stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import elastic from '@elastic/opamp-client-node';
import { AgentCapabilities, type AgentConfigFile } from '../src/fleet/codec.js';
import { parseSelector, subjectOf } from '../src/fleet/selector.js';
import { startHub, until, type TestHub } from './hub-harness.js';

const { createOpAMPClient, RemoteConfigStatuses } = elastic;

describe('interop: @elastic/opamp-client-node against the hub', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    await hub.close();
  });

  it('is listed, takes a fleet config and reports it APPLIED', async () => {
    const received: { hash: string; files: Record<string, string> }[] = [];
    const client = createOpAMPClient({
      endpoint: `${hub.url}/v1/opamp`,
      heartbeatIntervalSeconds: 0.2,
      capabilities: BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig | AgentCapabilities.AgentCapabilities_ReportsRemoteConfig),
      onMessage: ({ remoteConfig }) => {
        if (!remoteConfig) return;
        const files: Record<string, string> = {};
        for (const [name, f] of Object.entries<AgentConfigFile>(remoteConfig.config?.configMap ?? {})) files[name] = Buffer.from(f.body).toString('utf8');
        received.push({ hash: Buffer.from(remoteConfig.configHash).toString('hex'), files });
        client.setRemoteConfigStatus({
          status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
          lastRemoteConfigHash: remoteConfig.configHash,
        });
      },
    });
    client.setAgentDescription({
      identifyingAttributes: { 'service.name': 'elastic-interop', 'service.version': '1.2.3' },
      nonIdentifyingAttributes: { 'deployment.environment': 'interop', 'host.name': 'peer-1' },
    });
    client.start();
    try {
      const selector = parseSelector('deployment.environment=interop,service.name=elastic-interop');
      const listed = await until('the client to be listed', async () => (await hub.store.listAgents()).find((a) => selector.matches(subjectOf(a))));
      assert.equal(listed.kind, 'other');
      assert.equal(listed.version, '1.2.3');
      assert.equal(listed.hostName, 'peer-1');
      assert.equal(listed.status, 'online');
      assert.equal(received.length, 0, 'nothing sent before a config selects it');

      await hub.store.putConfig(
        { name: 'peer-settings', selector: 'deployment.environment=interop', priority: 5, opaque: true, body: '{"sampling": 0.5}', contentType: 'application/json', by: 'test' },
        Date.now(),
      );
      await hub.store.notify('agents:*');
      const got = await until('the config at the client', () => received[0]);
      assert.deepEqual(got.files, { 'fleet/00-peer-settings.yaml': '{"sampling": 0.5}' });

      const applied = await until('APPLIED in the registry', async () => {
        const a = await hub.store.getAgent(listed.instanceUid);
        return a?.remoteConfigStatus?.status === 'APPLIED' ? a : undefined;
      });
      assert.equal(applied.remoteConfigStatus!.hash, got.hash);
      assert.equal(applied.sentConfigHash, got.hash);
      // Applied once: the hub does not keep sending it.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(received.length, 1);
    } finally {
      await client.shutdown();
    }
  });
});
