import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { logDir, logFile, SYSTEM_LOG_DIR } from './paths.js';

describe('logDir', () => {
  it('is NRDOT_LOG_DIR, else <data dir>/logs, else /var/log/nrdot-plus for root', () => {
    assert.equal(logDir({ NRDOT_LOG_DIR: '/srv/logs', NRDOT_DATA_DIR: '/srv/data' }), '/srv/logs');
    assert.equal(logDir({ NRDOT_DATA_DIR: '/srv/data' }), '/srv/data/logs');
    const asRoot = process.getuid?.() === 0;
    assert.equal(logDir({ XDG_DATA_HOME: '/home/me/.data' }), asRoot ? SYSTEM_LOG_DIR : '/home/me/.data/nrdot-plus/logs');
    assert.equal(logFile({ NRDOT_LOG_DIR: '/srv/logs' }), join('/srv/logs', 'nrdot-plus.log'));
  });
});
