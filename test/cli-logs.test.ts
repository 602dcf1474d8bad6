/** The agent's log file (written through the logger, rotated) and `nrdot-plus-ctl logs`, as a user runs them. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CTL, run } from './run.js';

const WRITER = fileURLToPath(new URL('./log-writer.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'nrdot-cli-logs-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${dirs++}`);

/** A child process whose stdout is awaited line by line. */
class Child {
  stdout = '';
  stderr = '';
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.waiters.forEach((w) => w());
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    child.once('exit', () => this.waiters.forEach((w) => w()));
  }

  static start(args: string[], env: NodeJS.ProcessEnv = process.env): Child {
    return new Child(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env }));
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  /** Resolves once stdout holds a line for which `done` is true; rejects on exit or after timeoutMs. */
  waitFor(done: (line: string) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.lines.some(done)) finish();
        else if (this.child.exitCode !== null || this.child.signalCode !== null) finish(new Error(`exited before ${what}; stderr:\n${this.stderr}`));
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** The log writer: `write(n)` logs n more lines through the agent's logger and resolves once they are written. */
function startWriter(file: string, maxBytes: number): { child: Child; write: (n: number) => Promise<void>; total: () => number } {
  const child = Child.start([WRITER, file, String(maxBytes)]);
  let total = 0;
  return {
    child,
    total: () => total,
    write: async (n) => {
      total += n;
      child.child.stdin!.write(`${n}\n`);
      await child.waitFor((l) => l === `wrote ${total}`, `the writer's line ${total - 1}`);
    },
  };
}

const index = (line: string): number => (JSON.parse(line) as { i: number }).i;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

describe('the agent log file', () => {
  it('holds the same lines as stderr, rotated at the bound, keeping three older files', async () => {
    const dir = freshDir();
    const file = join(dir, 'nrdot-plus.log');
    const writer = startWriter(file, 2000);
    await writer.write(150);
    writer.child.child.stdin!.end();
    await once(writer.child.child, 'exit');
    assert.equal(statSync(dir).mode & 0o777, 0o750, 'the directory is created 0750');
    const stderr = writer.child.stderr.split('\n').filter((l) => l !== '');
    assert.equal(stderr.length, 150);
    const files = [`${file}.3`, `${file}.2`, `${file}.1`, file];
    assert.ok(!existsSync(`${file}.4`), 'only three rotated files are kept');
    const kept = files.flatMap((f) => {
      assert.ok(statSync(f).size <= 2000, `${f} is within the bound`);
      return readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');
    });
    assert.ok(kept.length > 40 && kept.length < 150, `older lines were rotated away (${kept.length} kept)`);
    assert.deepEqual(kept, stderr.slice(-kept.length), 'the file has exactly the lines of stderr');
    const first = JSON.parse(kept[0]!) as Record<string, unknown>;
    assert.equal(first.name, 'nrdot-plus');
    assert.equal(first.pid, writer.child.child.pid);
    assert.match(String(first.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});

describe('nrdot-plus-ctl logs', () => {
  const dir = freshDir();
  mkdirSync(dir);
  const entry = (i: number, level: number): string => JSON.stringify({ level, time: `2026-11-26T06:21:${String(i).padStart(2, '0')}.138Z`, pid: 7, name: 'nrdot-plus', msg: `message ${i}` });
  // Older lines in the rotated file, a line that is not JSON in the current one.
  writeFileSync(join(dir, 'nrdot-plus.log.1'), [entry(1, 30), entry(2, 50), entry(3, 30)].join('\n') + '\n');
  writeFileSync(join(dir, 'nrdot-plus.log'), [entry(4, 40), 'Error: not JSON', entry(5, 30), entry(6, 20)].join('\n') + '\n');
  const env = { ...process.env, NRDOT_LOG_DIR: dir };

  it('prints the last lines, human-formatted, from the rotated file too when needed', async () => {
    const r = await run(CTL, ['logs', '-n', '5'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '2026-11-26T06:21:03.138Z INFO  message 3',
        '2026-11-26T06:21:04.138Z WARN  message 4',
        'Error: not JSON',
        '2026-11-26T06:21:05.138Z INFO  message 5',
        '2026-11-26T06:21:06.138Z DEBUG message 6',
        '',
      ].join('\n'),
    );
    const all = await run(CTL, ['logs'], { env });
    assert.equal(all.stdout.split('\n').length - 1, 7, 'the default of 50 takes every line there is');
  });

  it('prints raw JSON lines with --json, and warnings and above with --level warn', async () => {
    const json = await run(CTL, ['logs', '--json', '--lines', '2'], { env });
    assert.equal(json.stdout, `${entry(5, 30)}\n${entry(6, 20)}\n`);
    const warn = await run(CTL, ['logs', '--level', 'warn', '--log-dir', dir], { env: { ...process.env, NRDOT_LOG_DIR: join(root, 'elsewhere') } });
    assert.equal(warn.code, 0, warn.stderr);
    assert.equal(warn.stdout, ['2026-11-26T06:21:02.138Z ERROR message 2', '2026-11-26T06:21:04.138Z WARN  message 4', 'Error: not JSON', ''].join('\n'));
  });

  it('says where it looked and how to start the agent when there is no log file, exit 1', async () => {
    const missing = join(root, 'none');
    const r = await run(CTL, ['logs'], { env: { ...process.env, NRDOT_LOG_DIR: missing } });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `nrdot-plus-ctl: no log file at ${join(missing, 'nrdot-plus.log')}; is the agent running? start it with \`nrdot-plus\` (or \`systemctl start nrdot-plus\`)\n`,
    );
    const follow = await run(CTL, ['logs', '--follow'], { env: { ...process.env, NRDOT_LOG_DIR: missing } });
    assert.equal(follow.code, 1);
  });

  it('--follow prints every line once and in order while the file is written and rotated, until SIGINT', { timeout: 60_000 }, async () => {
    const logDir = freshDir();
    const file = join(logDir, 'nrdot-plus.log');
    const writer = startWriter(file, 2000); // about 20 lines per file
    await writer.write(10);
    const follower = Child.start([CTL, 'logs', '--follow', '--json', '-n', '3', '--log-dir', logDir]);
    try {
      await follower.waitFor((l) => index(l) === 9, 'the last lines before following');
      // Steps that each cross a rotation, then bursts of two or three rotations at once, and of up to
      // four, when the file being read is rotated out of the three kept before the next read.
      for (const n of [15, 15, 15, 15, 45, 70]) {
        await writer.write(n);
        const last = writer.total() - 1;
        await follower.waitFor((l) => index(l) === last, `line ${last}`);
      }
      assert.ok(existsSync(`${file}.3`), 'the file was rotated');
      follower.child.kill('SIGINT');
      const [code] = (await once(follower.child, 'exit')) as [number | null];
      assert.equal(code, 0, follower.stderr);
      assert.deepEqual(follower.lines.map(index), range(7, writer.total()));
    } finally {
      follower.child.kill();
      writer.child.child.stdin!.end();
    }
  });
});
