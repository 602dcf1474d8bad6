import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../agent/log.js';
import { FileExporter } from './file.js';

const log = createLogger('silent');

const dir = mkdtempSync(join(tmpdir(), 'nrdot-file-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('file exporter', () => {
  it('appends one line per write and rotates by size, keeping the newest files', () => {
    const path = join(dir, 'otlp.jsonl');
    const line = (i: number): string => JSON.stringify({ interval: i, pad: 'x'.repeat(40) });
    const exporter = new FileExporter({ path, maxBytes: 2 * (line(0).length + 1), keep: 2, log });
    for (let i = 0; i < 7; i++) exporter.write(line(i));
    const lines = (p: string): number[] => readFileSync(p, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { interval: number }).interval);
    assert.deepEqual(lines(path), [6]);
    assert.deepEqual(lines(`${path}.1`), [4, 5]);
    assert.deepEqual(lines(`${path}.2`), [2, 3]);
    assert.ok(!existsSync(`${path}.3`), 'older files are removed');
  });

  it('continues a file left by an earlier run, counting its size', () => {
    const path = join(dir, 'resume.jsonl');
    writeFileSync(path, 'x'.repeat(90) + '\n');
    new FileExporter({ path, maxBytes: 100, log }).write('y'.repeat(20));
    assert.equal(readFileSync(path, 'utf8'), 'y'.repeat(20) + '\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), 'x'.repeat(90) + '\n');
  });
});
