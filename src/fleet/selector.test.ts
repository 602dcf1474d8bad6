import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSelector, SelectorError, type SelectorSubject } from './selector.js';

const agent = (labels: Record<string, string>, nonIdentifying: Record<string, string> = {}, identifying: Record<string, string> = {}): SelectorSubject => ({
  labels,
  nonIdentifying,
  identifying,
});

describe('selectors', () => {
  const db = agent({ env: 'prod', role: 'db' }, { 'host.name': 'db-1', 'os.type': 'linux' }, { 'service.name': 'nrdot-plus' });
  const web = agent({ env: 'prod', role: 'web', canary: 'true' }, { 'host.name': 'web-1' }, { 'service.name': 'otelcol' });
  const dev = agent({ env: 'dev' }, {}, { 'service.name': 'nrdot-plus' });
  const pick = (text: string): number[] => [db, web, dev].flatMap((a, i) => (parseSelector(text).matches(a) ? [i] : []));

  it('equality, inequality, sets, existence and absence, as Kubernetes reads them', () => {
    assert.deepEqual(pick(''), [0, 1, 2]);
    assert.deepEqual(pick('role=db'), [0]);
    assert.deepEqual(pick('role==db'), [0]);
    assert.deepEqual(pick('role!=db'), [1, 2], 'an agent without the key matches !=');
    assert.deepEqual(pick('env=prod,role in (db, web),!canary'), [0]);
    assert.deepEqual(pick('role notin (db)'), [1, 2]);
    assert.deepEqual(pick('canary'), [1]);
    assert.deepEqual(pick('!role'), [2]);
  });

  it('looks a key up in labels, then non-identifying, then identifying attributes', () => {
    assert.deepEqual(pick('host.name=web-1'), [1]);
    assert.deepEqual(pick('service.name=nrdot-plus'), [0, 2]);
    const shadowed = agent({ 'service.name': 'label-wins' }, {}, { 'service.name': 'nrdot-plus' });
    assert.equal(parseSelector('service.name=label-wins').matches(shadowed), true);
    assert.equal(parseSelector('service.name=nrdot-plus').matches(shadowed), false);
  });

  it('says what is wrong and where', () => {
    for (const [text, where] of [
      ['role=', 6],
      ['role in db', 9],
      ['role in (db', 12],
      ['env=prod role=db', 10],
      ['env=prod,', 10],
      ['=db', 1],
    ] as const) {
      assert.throws(() => parseSelector(text), (err: unknown) => {
        assert.ok(err instanceof SelectorError, text);
        assert.match(err.message, new RegExp(`^selector "${text.replace(/[()]/g, '\\$&')}": .* at character ${where}$`));
        return true;
      });
    }
  });

  it('a selector built from labels selects exactly the agents carrying them', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/);
    fc.assert(
      fc.property(fc.dictionary(key, key, { maxKeys: 4 }), fc.dictionary(key, key, { maxKeys: 4 }), (want, have) => {
        const text = Object.entries(want).map(([k, v]) => `${k}=${v}`).join(',');
        const expected = Object.entries(want).every(([k, v]) => have[k] === v);
        assert.equal(parseSelector(text).matches(agent(have)), expected);
      }),
    );
  });
});
