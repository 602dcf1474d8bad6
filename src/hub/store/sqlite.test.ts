// The SQLite backend's kept statements: one prepare per SQL text, bounded, results unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { keepStatements } from './sqlite.js';

test('a statement is prepared once per SQL text and the least recently used go beyond the bound', () => {
  const raw = new Database(':memory:');
  const db = keepStatements(raw, 2);
  db.prepare('CREATE TABLE t (x INTEGER)').run([]);
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  insert.run([1]);
  assert.equal(db.prepare('INSERT INTO t VALUES (?)'), insert, 'the same text: the same statement');
  db.prepare('INSERT INTO t VALUES (?)').run([2]);
  const select = db.prepare('SELECT x FROM t ORDER BY x');
  assert.deepEqual(select.all([]), [{ x: 1 }, { x: 2 }]);
  db.prepare('SELECT count(*) AS n FROM t'); // a third text: the least recently used (CREATE) goes
  assert.equal(db.prepare('SELECT x FROM t ORDER BY x'), select);
  assert.notEqual(db.prepare('INSERT INTO t VALUES (?)'), insert, 'evicted beyond the bound: prepared anew');
  db.close();
});
