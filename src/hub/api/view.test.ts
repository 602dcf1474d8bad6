import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AgentRecord } from '../store/types.js';
import { agentWarnings, compareVersions, configStatus, type DesiredView } from './view.js';

const agent = (patch: Partial<AgentRecord>): AgentRecord => ({ kind: 'nrdot', version: '0.1.0', remoteConfigStatus: null, health: null, ...patch }) as AgentRecord;
const wants = (hash: string, configs = 1): DesiredView => ({ hash, configs: Array.from({ length: configs }, (_, i) => ({ name: `c${i}`, version: 1, priority: 0, hash: 'x' })), pin: null });

describe('registry views', () => {
  it('config status: the reported status when it is about what the hub wants now, else PENDING (NONE when nothing is wanted)', () => {
    assert.equal(configStatus(agent({}), wants('h1', 0)), 'NONE');
    assert.equal(configStatus(agent({}), wants('h1')), 'PENDING');
    assert.equal(configStatus(agent({ remoteConfigStatus: { hash: 'h1', status: 'APPLIED', error: '' } }), wants('h1')), 'APPLIED');
    assert.equal(configStatus(agent({ remoteConfigStatus: { hash: 'h0', status: 'APPLIED', error: '' } }), wants('h1')), 'PENDING', 'applied an older set');
    assert.equal(configStatus(agent({ remoteConfigStatus: { hash: 'h1', status: 'FAILED', error: 'bad' } }), wants('h1')), 'FAILED');
  });

  it('warns about old agents, failed configs and bad health', () => {
    assert.equal(compareVersions('0.10.0', '0.9.1') > 0, true);
    assert.equal(compareVersions('v1.2.3', '1.2.3'), 0);
    const w = agentWarnings(
      agent({ version: '0.0.9', remoteConfigStatus: { hash: 'h1', status: 'FAILED', error: 'profiles.x: unknown setting' }, health: { healthy: false, status: 'degraded', lastError: 'export failing' } as AgentRecord['health'] }),
      wants('h1'),
    );
    assert.equal(w.length, 3);
    assert.match(w[0]!, /version 0\.0\.9 is older than this hub supports/);
    assert.match(w[1]!, /fleet configuration failed: profiles\.x: unknown setting/);
    assert.match(w[2]!, /unhealthy: export failing/);
    assert.deepEqual(agentWarnings(agent({ kind: 'other', version: '0.0.1' }), wants('h1')), [], 'other agents\' versions are theirs');
  });
});
