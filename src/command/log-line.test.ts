import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLine } from './log-line.js';

describe('formatLine', () => {
  const line = (level: number, extra: Record<string, unknown> = { msg: 'hello' }): string =>
    JSON.stringify({ level, time: '2026-11-26T06:21:25.138Z', pid: 1, name: 'nrdot-plus', ...extra });

  it('shows time, level and message, the level aligned, coloured only when asked', () => {
    assert.equal(formatLine(line(30), false), '2026-11-26T06:21:25.138Z INFO  hello');
    assert.equal(formatLine(line(50), false), '2026-11-26T06:21:25.138Z ERROR hello');
    assert.equal(formatLine(line(40), true), '2026-11-26T06:21:25.138Z \x1b[33mWARN\x1b[0m  hello');
  });

  it('keeps a line that is not JSON as it is, and shows the fields of a line without a message', () => {
    assert.equal(formatLine('Segmentation fault', false), 'Segmentation fault');
    assert.equal(formatLine('{not json', false), '{not json');
    assert.equal(formatLine(line(30, { queued: 3 }), false), '2026-11-26T06:21:25.138Z INFO  {"queued":3}');
  });

  it('shows the control characters of a message (a process name, a command line) as escapes, never raw', () => {
    const name = 'evil\x1b]0;owned\x07\x1b[2J';
    const out = formatLine(line(40, { msg: `permission denied reading /proc/7/io (${name})` }), false);
    assert.equal(out, '2026-11-26T06:21:25.138Z WARN  permission denied reading /proc/7/io (evil\\x1b]0;owned\\x07\\x1b[2J)');
    assert.equal(formatLine('raw \x1b[31m', false), 'raw \\x1b[31m');
  });
});
