import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../api/errors.js';
import { encodeRequestMessage, parseResponseMessage } from '../fleet/requests.js';
import { answerRequest } from './fleet-requests.js';

const daemon = {
  processes: (q: { limit?: number }) => ({ processes: Array.from({ length: q.limit ?? 0 }, (_, i) => ({ pid: i })) }),
  explain: (target: string) => {
    if (target !== '42') throw new ApiError(404, `no process with pid ${target} in the latest interval`);
    return { decisions: [{ pid: 42 }] };
  },
  journal: (q: { limit?: number }) => ({ entries: Array.from({ length: Math.min(q.limit ?? 0, 3) }, () => ({ who: 'fleet' })) }),
};
const ask = (msg: unknown): ReturnType<typeof answerRequest> => answerRequest(daemon, Buffer.from(JSON.stringify(msg)));

describe('the hub\'s requests', () => {
  it('answers top, explain and journal in the shapes of src/fleet/requests.ts, bounded', () => {
    const top = answerRequest(daemon, encodeRequestMessage({ id: 'a', type: 'top', body: { limit: 10_000 } }))!;
    assert.deepEqual(parseResponseMessage(Buffer.from(JSON.stringify(top))).id, 'a');
    assert.equal(((top as { result: { processes: unknown[] } }).result.processes).length, 200, 'at most 200 rows');
    assert.deepEqual(ask({ id: 'b', type: 'explain', body: { pid: 42 } }), { id: 'b', ok: true, result: { decisions: [{ pid: 42 }] } });
    assert.deepEqual(ask({ id: 'c', type: 'explain', body: { pid: 7 } }), { id: 'c', ok: false, error: 'no process with pid 7 in the latest interval' });
    assert.equal((ask({ id: 'd', type: 'journal', body: {} }) as { ok: boolean }).ok, true);
  });

  it('says ok:false to a type it does not serve, and ignores what has no id', () => {
    const unknown = ask({ id: 'e', type: 'restart', body: {} })!;
    assert.equal(unknown.ok, false);
    assert.match((unknown as { error: string }).error, /this agent serves top, explain, journal/);
    assert.equal(ask({ type: 'top', body: {} }), null);
    assert.equal(answerRequest(daemon, Buffer.from('not json')), null);
  });
});
