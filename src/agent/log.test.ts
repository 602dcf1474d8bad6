import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from './log.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('createLogger', () => {
  it('logs to stderr alone without a file, as before', () => {
    const log = createLogger('silent');
    assert.equal(log.level, 'silent');
  });

  it('refuses, naming it, a log file that cannot be opened', () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, '');
    const under = join(notADir, 'logs', 'nrdot-plus.log');
    assert.throws(() => createLogger('info', { file: under }), { name: 'UserError', message: new RegExp(`^log file ${under}: ENOTDIR`) });
    const isDir = join(dir, 'logs', 'nrdot-plus.log');
    mkdirSync(isDir, { recursive: true });
    assert.throws(() => createLogger('info', { file: isDir }), { name: 'UserError', message: new RegExp(`^log file ${isDir}: EISDIR`) });
  });
});
