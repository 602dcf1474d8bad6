import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatKeyValues, formatTable, PIPE_WIDTH, terminalWidth, wrapText } from './table.js';

const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));

describe('formatTable', () => {
  const header = ['profile', 'datapoints reduction', 'billed bytes reduction', 'description'];
  const rows = [
    ['balanced', '92.7%', '96.2%', 'recommended default for most hosts, with top-K per class and rollups by executable'],
    ['aggressive', '95.2%', '97.7%', 'cost first: only busy, anomalous and critical processes'],
  ];

  it('prints the table as it is when it fits', () => {
    const text = formatTable(['a', 'bb'], [['x', '1'], ['yy', '22']], { width: 80 });
    assert.equal(text, 'a   bb\nx    1\nyy  22');
  });

  it('wraps long headers at their words, then free text, to fit the width', () => {
    const text = formatTable(header, rows, { width: 80, wrap: [3] });
    assert.ok(widest(text) <= 80, text);
    assert.match(text, /^\s+datapoints\s+bytes$/m, 'headers on more lines, at their words');
    assert.match(text, /^balanced\s+92\.7%\s+96\.2%\s+recommended default/m);
    assert.ok(!text.includes('not shown'), text);
    // Every word of the description is still there.
    for (const word of rows[0]![3]!.split(' ')) assert.ok(text.includes(word), word);
  });

  it('leaves out the optional columns, first listed first, and says which', () => {
    const text = formatTable(header, rows, { width: 45, drop: [3, 2] });
    assert.ok(widest(text) <= 45, text);
    assert.ok(!text.includes('recommended'));
    assert.match(text.replace(/\n/g, ' '), /not shown, to fit 45 columns: description; .*--json/);
    assert.match(text, /96\.2%/, 'the second optional column was not needed');
  });
});

describe('terminalWidth', () => {
  it('is COLUMNS when set, else the terminal\'s, else a fixed width for pipes', () => {
    assert.equal(terminalWidth({ isTTY: true, columns: 100 }, { COLUMNS: '80' }), 80);
    assert.equal(terminalWidth({ isTTY: true, columns: 100 }, {}), 100);
    assert.equal(terminalWidth({ isTTY: false }, {}), PIPE_WIDTH);
    assert.equal(terminalWidth({ isTTY: false }, { COLUMNS: 'wide' }), PIPE_WIDTH);
  });
});

describe('wrapText and formatKeyValues', () => {
  it('wraps at spaces, cuts a word longer than the line, and indents a value under itself', () => {
    assert.deepEqual(wrapText('one two three', 7), ['one two', 'three']);
    assert.deepEqual(wrapText('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
    const text = formatKeyValues([['series', 'a b c d e f g h i j k l m n o p q r s t u v w x y z and more words here']], (k) => k, 40);
    assert.ok(widest(text) <= 40, text);
    assert.match(text, /^series {2}a b c/);
    assert.match(text.split('\n')[1]!, /^ {8}\S/);
  });
});
