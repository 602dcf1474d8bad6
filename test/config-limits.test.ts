/**
 * Configuration files that would take the agent's memory (an alias bomb, a file of megabytes) are
 * configuration errors naming the file on every path: start, `config validate`, SIGHUP, `config
 * reload` and the file watcher; and a storm of SIGHUPs makes a bounded number of reloads.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { AGENT, CTL, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-config-limits-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Ten levels of ten aliases each: 10^10 copies of a string once expanded ("billion laughs"). */
const BOMB = [
  'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]',
  ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
  'custom_classification: *a9',
  '',
].join('\n');

/** A valid file of 2 MiB: many custom tiers. */
function large(): string {
  const lines = ['custom_classification:'];
  for (let i = 0; lines.length < 40_000; i++) lines.push(`  tier${i}: { score: 0.5, patterns: { linux: ["^proc${i}$"] } }`);
  return `${lines.join('\n')}\n`;
}

const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

function ctl(dir: string, args: string[]): Promise<RunResult> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });
}

function noStack(r: RunResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at |ReferenceError/);
}

describe('configuration size and alias bounds', () => {
  it('refuses an alias bomb and an oversized file at start and in config validate, naming the file', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, BOMB);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, large());
    for (const [file, message] of [
      [bomb, /YAML aliases: they expand beyond 100 copies/],
      [big, /\d+ KiB, larger than a configuration file may be \(256 KiB\)/],
    ] as const) {
      const start = await run(AGENT, ['--once', '--config', file], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NRDOT_HTTP_ADDR: '127.0.0.1:0' } });
      assert.equal(start.code, 1, start.stderr);
      assert.match(start.stderr, new RegExp(`${file}: ${message.source}`));
      noStack(start);
      const validate = await ctl(dir, ['config', 'validate', '--config', file]);
      assert.equal(validate.code, 1, validate.stderr);
      assert.match(validate.stderr, new RegExp(`${file}: ${message.source}`));
      noStack(validate);
    }
  });

  it('reads at most 256 KiB of a file that does not say its size: a pipe, a procfs file', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const fifo = join(dir, 'optimization.yaml');
    execFileSync('mkfifo', [fifo]);
    // 300 KiB of YAML comments (a valid configuration, read whole), written into the pipe once it is opened.
    const writer = spawn('sh', ['-c', 'head -c 307200 /dev/zero | tr "\\0" "#" > "$0"', fifo], { stdio: 'ignore' });
    const written = once(writer, 'exit');
    const piped = await ctl(dir, ['config', 'validate', '--config', fifo]);
    await written;
    assert.equal(piped.code, 1, piped.stderr);
    assert.match(piped.stderr, new RegExp(`${fifo}: more than 256 KiB, larger than a configuration file may be \\(256 KiB\\)`));
    noStack(piped);
    // /proc/self/environ says size 0; three variables of 100 KB make it 300 KB.
    const env = Object.fromEntries([1, 2, 3].map((i) => [`NRDOT_TEST_PAD${i}`, 'x'.repeat(100_000)]));
    const proc = await run(CTL, ['config', 'validate', '--config', '/proc/self/environ'], { env: { ...process.env, ...NO_PROXY_ENV, ...env, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });
    assert.equal(proc.code, 1, proc.stderr);
    assert.match(proc.stderr, /\/proc\/self\/environ: more than 256 KiB, larger than a configuration file may be/);
    noStack(proc);
  });

  it('refuses them on reload (file watch, SIGHUP, config reload): logged, counted, the previous configuration kept', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, 'cost_model: { per_gb: 0.40 }\n');
    const agent = AgentProcess.start(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dir });
    try {
      await agent.waitForLog(isInterval, 20_000, 'the first interval');
      const refusals = (): LogLine[] => agent.lines.filter((l) => /configuration not reloaded/.test(String(l.msg)));
      writeFileSync(config, BOMB);
      await agent.waitForLog(() => refusals().some((l) => l.by === 'file watch' && String(l.msg).includes(`${config}: YAML aliases`)), 10_000, 'the file watcher refusing the bomb');
      agent.child.kill('SIGHUP');
      await agent.waitForLog(() => refusals().some((l) => l.by === 'SIGHUP'), 10_000, 'SIGHUP refusing the bomb');
      writeFileSync(config, large());
      const r = await ctl(dir, ['config', 'reload']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`previous one stays in force: ${config}: \\d+ KiB, larger than a configuration file may be`));
      const status = JSON.parse((await ctl(dir, ['status', '--json'])).stdout) as { reloads: { failed: number; last_error: string } };
      assert.ok(status.reloads.failed >= 3, `reloads.failed ${status.reloads.failed}`);
      const shown = JSON.parse((await ctl(dir, ['config', 'show', '--json'])).stdout) as { cost_model: { per_gb: number } };
      assert.equal(shown.cost_model.per_gb, 0.4, 'the previous configuration stays in force');
      assert.ok(agent.running);
    } finally {
      await agent.stop();
    }
  });

  it('coalesces a storm of SIGHUPs into a few reloads, and the file as it ends is in force', async () => {
    const dir = mkdtempSync(join(root, 'data-'));
    const config = join(dir, 'optimization.yaml');
    writeFileSync(config, 'cost_model: { per_gb: 0.40 }\n');
    const agent = AgentProcess.start(['--interval', '1', '--config', config], { NRDOT_DATA_DIR: dir });
    try {
      await agent.waitForLog(isInterval, 20_000, 'the first interval');
      const reloads = (): LogLine[] => agent.lines.filter((l) => l.by === 'SIGHUP' && /configuration reloaded/.test(String(l.msg)));
      // Spaced out, as a loop of `kill -HUP` would: signals sent at once merge in the kernel into one.
      const started = performance.now();
      for (let i = 0; i < 300; i++) {
        if (i === 150) writeFileSync(config, 'cost_model: { per_gb: 0.55 }\n');
        agent.child.kill('SIGHUP');
        await delay(2);
      }
      const stormSeconds = (performance.now() - started) / 1000;
      await agent.waitForLog(() => reloads().length > 0, 10_000, 'a SIGHUP reload');
      // Two intervals more: any reload still owed to the storm has run by then.
      const n = agent.intervals();
      await agent.waitForLog(() => agent.intervals() >= n + 3, 10_000, 'intervals after the storm');
      // One at once, then at most one a second, and one after the storm.
      assert.ok(reloads().length <= Math.ceil(stormSeconds) + 2, `${reloads().length} reloads for 300 SIGHUPs over ${stormSeconds.toFixed(1)} s`);
      const shown = JSON.parse((await ctl(dir, ['config', 'show', '--json'])).stdout) as { cost_model: { per_gb: number } };
      assert.equal(shown.cost_model.per_gb, 0.55);
    } finally {
      await agent.stop();
    }
  });
});
