import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RotatingFile } from '../export/file.js';
import { LogFile } from './log-files.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-log-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const name = (i: number): string => `line ${String(i).padStart(4, '0')}`;
const names = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => name(from + k));

function poll(file: LogFile): string[] {
  const seen: string[] = [];
  file.poll((line) => seen.push(line));
  return seen;
}

describe('LogFile', () => {
  it('gives the last lines across rotated files, then every new line once, across rotations', () => {
    const path = join(dir, `f${files++}.log`);
    const rotating = new RotatingFile({ path, maxBytes: 100, keep: 3 }); // 10 lines of 10 bytes a file
    let next = 0;
    const write = (n: number): void => {
      for (const end = next + n; next < end; next++) rotating.append(name(next) + '\n');
    };
    write(25);
    const file = new LogFile(path, 'missing');
    assert.deepEqual(file.last(12, () => true), names(13, 25));
    assert.deepEqual(file.last(2, (l) => l.endsWith('0')), [name(10), name(20)]);
    assert.deepEqual(poll(file), []);
    for (const [n, what] of [
      [3, 'no rotation'],
      [5, 'one rotation'],
      [20, 'two rotations between two reads'],
      [30, 'three: the file being read is now FILE.3'],
      [40, 'four: the file being read was removed, the three kept are all newer'],
    ] as const) {
      const from = next;
      write(n);
      assert.deepEqual(poll(file), names(from, next), what);
    }
    file.close();
  });

  it('waits for the rest of a partial line, and takes it as it is when the file is replaced', () => {
    const path = join(dir, `f${files++}.log`);
    writeFileSync(path, 'line 0000\nline 00');
    const file = new LogFile(path, 'missing');
    assert.deepEqual(file.last(5, () => true), ['line 0000'], 'a partial last line is not shown yet');
    assert.deepEqual(poll(file), []);
    appendFileSync(path, '01\nline 00');
    assert.deepEqual(poll(file), ['line 0001']);
    rmSync(path);
    writeFileSync(path, 'line 0003\n');
    assert.deepEqual(poll(file), ['line 00', 'line 0003']);
    writeFileSync(path, 'line 4\n'); // truncated in place (copytruncate) and rewritten, shorter
    assert.deepEqual(poll(file), ['line 4']);
    file.close();
  });

  it('is a UserError with the message given when the file is missing', () => {
    assert.throws(() => new LogFile(join(dir, 'none.log'), 'no log file here'), { name: 'UserError', message: 'no log file here' });
  });
});
