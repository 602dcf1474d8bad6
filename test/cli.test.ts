/** The two executables as a user runs them: flags, exit codes, recordings, the agent's log. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { readRecording } from '../src/snapshot/recording.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { VERSION } from '../src/version.js';
import { buildProcfs } from './fakeproc.js';
import { AGENT, CTL, logLines, run, withDataDir } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('nrdot-plus-ctl', () => {
  it('prints its version and help', async () => {
    const v = await run(CTL, ['--version']);
    assert.equal(v.code, 0);
    assert.equal(v.stdout.trim(), VERSION);
    const j = await run(CTL, ['version', '--json']);
    assert.equal(JSON.parse(j.stdout).version, VERSION);
    const h = await run(CTL, ['snapshot', '--help']);
    assert.equal(h.code, 0);
    for (const flag of ['--procfs', '--count', '--interval', '--output']) assert.ok(h.stdout.includes(flag), flag);
  });

  it('rejects unknown flags, commands and bad values with exit code 2, naming them', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['snapshot', '--frobnicate'], /unknown option '--frobnicate'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['snapshot', '--interval', '-1'], /--interval.*must be a number of seconds from 0 to 86400/],
      [['snapshot', '--count', '0'], /--count.*1 or more/],
      [[], /Usage: nrdot-plus-ctl/],
    ];
    for (const [args, message] of cases) {
      const r = await run(CTL, args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
  });

  it('names the procfs root or output file it cannot use, exit 1', async () => {
    const r = await run(CTL, ['snapshot', '--procfs', join(dir, 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--procfs .*missing: no such directory/);
    const env = await run(CTL, ['snapshot'], { env: { ...process.env, NRDOT_PROCFS: dir } });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /not readable as a procfs/);
    const out = await run(CTL, ['snapshot', '--interval', '0', '-o', join(dir, 'no/such/dir.ndjson')]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /--output .*dir\.ndjson/);
    assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace');
  });

  it('writes N snapshots of this host to stdout', async () => {
    const r = await run(CTL, ['snapshot', '--count', '3', '--interval', '0']);
    assert.equal(r.code, 0, r.stderr);
    const snaps = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Snapshot);
    assert.equal(snaps.length, 3);
    for (const s of snaps) {
      assert.equal(s.schema, 'nrdot.snapshot/v1');
      assert.ok(s.processes.some((p) => p.name === 'node' && p.cmdline.includes('nrdot-plus-ctl snapshot')), 'sees itself');
    }
    assert.ok(snaps[0]!.timestamp <= snaps[1]!.timestamp && snaps[1]!.timestamp <= snaps[2]!.timestamp);
  });

  it('writes a gzip recording that reads back', async () => {
    const file = join(dir, 'rec.ndjson.gz');
    const r = await run(CTL, ['snapshot', '--count', '2', '--interval', '0', '--output', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...readFileSync(file).subarray(0, 2)], [0x1f, 0x8b]);
    const snaps: Snapshot[] = [];
    for await (const s of readRecording(file)) snaps.push(s);
    assert.equal(snaps.length, 2);
    assert.ok(snaps[1]!.processes.length > 0);
  });

  /** Starts a long recording, waits for its first complete line, then sends Ctrl-C. */
  async function interruptAfterFirstLine(file: string, interval: string): Promise<{ code: number; lines: string[] }> {
    const child = spawn(process.execPath, [CTL, 'snapshot', '--count', '1000000', '--interval', interval, '-o', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const watcher = watch(dir);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`snapshot exited early with ${code}`)));
        const check = (): void => {
          try {
            if (readFileSync(file, 'utf8').includes('\n')) return resolve();
          } catch {
            // not created yet
          }
          watcher.once('change', check);
        };
        check();
      });
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = (await exited) as [number];
      return { code, lines: readFileSync(file, 'utf8').split('\n') };
    } finally {
      watcher.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }

  it('keeps what it wrote when interrupted between snapshots, and stops at once', async () => {
    const { code, lines } = await interruptAfterFirstLine(join(dir, 'interrupted.ndjson'), '3600');
    assert.equal(code, 130);
    assert.deepEqual(lines.slice(1), [''], 'one complete snapshot and a final newline');
    assert.equal((JSON.parse(lines[0]!) as Snapshot).schema, 'nrdot.snapshot/v1');
  });

  it('stops on Ctrl-C while reading back to back', async () => {
    const { code, lines } = await interruptAfterFirstLine(join(dir, 'back-to-back.ndjson'), '0');
    assert.equal(code, 130);
    assert.equal(lines.at(-1), '', 'the file ends with a complete line');
    for (const line of lines.slice(0, -1)) assert.equal((JSON.parse(line) as Snapshot).schema, 'nrdot.snapshot/v1');
  });

  it('ends quietly when the reader of its output goes away', async () => {
    const child = spawn(process.execPath, [CTL, 'snapshot', '--count', '1000', '--interval', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await once(child.stdout!, 'data');
    child.stdout!.destroy(); // like `| head -c 10`
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });

  it('exits 0 for help, as for --help', async () => {
    for (const args of [['help'], ['help', 'snapshot'], ['snapshot', '--help']]) {
      const r = await run(CTL, args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout + r.stderr, /Usage: nrdot-plus-ctl/);
    }
  });
});

describe('nrdot-plus (agent)', () => {
  it('collects once and logs processes read, permission errors muted and read time', async () => {
    const r = await run(AGENT, ['--once']);
    assert.equal(r.code, 0, r.stderr);
    const line = logLines(r.stderr).find((l) => typeof l.processes === 'number')!;
    assert.ok(Number(line.processes) > 0);
    assert.equal(typeof line.read_ms, 'number');
    assert.equal(typeof line.permission_errors, 'number');
    assert.match(String(line.msg), /^collected \d+ processes in [\d.]+ ms, \d+ permission errors muted; balanced: \d+ of \d+ datapoints \(-[\d.]+%\)$/);
  });

  it('rejects a bad NRDOT_COLLECTION_INTERVAL or flag with exit code 2', async () => {
    const r = await run(AGENT, [], { env: { ...process.env, NRDOT_COLLECTION_INTERVAL: '0' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /NRDOT_COLLECTION_INTERVAL: must be from 1 s to 1 d \(got "0"; it sets cost_model\.collection_interval_seconds\)/);
    const f = await run(AGENT, ['--bogus']);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /unknown option '--bogus'/);
  });

  it('names a bad NRDOT_LOG_LEVEL, exit 2', async () => {
    const r = await run(AGENT, ['--once'], { env: { ...process.env, NRDOT_LOG_LEVEL: 'loud' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /NRDOT_LOG_LEVEL: must be one of .*info.* \(got "loud"\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('exits 1 from --once when the read fails, saying why', async () => {
    const tree = buildProcfs({ processes: [{ pid: 1, name: 'init' }] });
    try {
      rmSync(join(tree, 'meminfo'));
      const r = await run(AGENT, ['--once', '--procfs', tree]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot read .*: ENOENT.*meminfo/);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  it('collects every interval until SIGTERM, then exits cleanly', async () => {
    const child = spawn(process.execPath, [AGENT], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: withDataDir({ ...process.env, NRDOT_COLLECTION_INTERVAL: '1', NRDOT_HTTP_ADDR: '127.0.0.1:0' }),
    });
    const lines = createInterface({ input: child.stderr! });
    let collected = 0;
    const stderr: string[] = [];
    for await (const line of lines) {
      stderr.push(line);
      if (line.includes('"processes"')) collected++;
      if (collected === 2) break;
    }
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(collected, 2);
    assert.match(stderr[0]!, /started: reading \/proc every 1 s/);
  });
});
