import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import { SCHEMA_VERSION, StateStore } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-store-fleet-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('state store: the fleet (migration 4)', () => {
  it('upgrades a version-3 store, keeping what it held, and keeps the instance UID and the last fleet layer', () => {
    const dir = join(root, 'v3', 'state');
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, 'state.db'));
    db.exec(MIGRATIONS.slice(0, 3).join('\n'));
    db.pragma('user_version = 3');
    db.prepare("INSERT INTO settings (key, value) VALUES ('kept', '42')").run();
    db.close();
    let store = StateStore.open(dir);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.equal(store.getSetting('kept'), 42);
    assert.equal(store.fleet.instanceUid(), null);
    assert.equal(store.fleet.layer(), null);
    store.fleet.setInstanceUid('01a25351-ca93-7ed8-8a8f-2f43987b97dd', 1);
    store.fleet.setLayer({ hash: Buffer.from([1, 2, 3]), files: { 'fleet/00-a.yaml': 'a: 1\n' }, received: 2 });
    store.fleet.setLayer({ hash: Buffer.from([4]), files: { 'fleet/00-b.yaml': 'b: 1\n' }, received: 3 });
    store.close();
    store = StateStore.open(dir);
    assert.equal(store.fleet.instanceUid(), '01a25351-ca93-7ed8-8a8f-2f43987b97dd');
    assert.deepEqual(store.fleet.layer(), { hash: Buffer.from([4]), files: { 'fleet/00-b.yaml': 'b: 1\n' }, received: 3 });
    store.fleet.clearLayer();
    assert.equal(store.fleet.layer(), null);
    store.close();
  });
});
