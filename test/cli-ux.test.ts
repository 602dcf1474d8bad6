/**
 * nrdot-plus-ctl and the agent as a newcomer meets them: tables that fit the terminal, one
 * vocabulary, messages that say what to do next, `top --watch` and readable log lines on a terminal
 * (run in a real pseudo-terminal with util-linux's `script`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, NO_PROXY_ENV } from './agent-process.js';
import { buildProcfs } from './fakeproc.js';
import { AGENT, CTL, REPO, logLines, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-ux-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Terminal control sequences are what these tests look for.
/* eslint-disable no-control-regex */
const widest = (text: string): number => Math.max(...text.split('\n').map((l) => l.length));

function ctl(dir: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NO_COLOR: '1', COLUMNS: '', ...env } });
}

/** Runs a shell command line in a pseudo-terminal (util-linux script) of 100 x 30; stdin is ours to write keys to. */
function inTerminal(command: string, env: Record<string, string>): { child: ReturnType<typeof spawn>; output: () => string; until: (match: RegExp, what: string) => Promise<void> } {
  const child = spawn('script', ['-qfec', `stty cols 100 rows 30; ${command}`, '/dev/null'], { cwd: REPO, env: { ...process.env, ...NO_PROXY_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  const until = (match: RegExp, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output:\n${out}`)), 60_000);
      const check = (): void => {
        if (!match.test(out)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { child, output: () => out, until };
}

describe('nrdot-plus-ctl with a running agent, for people', () => {
  const dir = mkdtempSync(join(root, 'data-'));
  let agent: AgentProcess;
  before(async () => {
    // A Kubernetes node of ~250 processes, one snapshot a second for 10 minutes, replayed at its pace.
    const recording = join(dir, 'k8s.ndjson.gz');
    const synth = await run(CTL, ['synth', '--archetype', 'k8s-node', '--intervals', '600', '--interval', '1', '--start', String(Math.floor(Date.now() / 1000)), '-o', recording]);
    assert.equal(synth.code, 0, synth.stderr);
    agent = AgentProcess.start(['--replay', recording], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' });
    await agent.waitForLog(() => agent.intervals() >= 2, 60_000, 'two intervals');
  });
  after(() => agent.stop());

  it('fits status, metrics, top, profile list and profile compare in 120 columns in a pipe, and in 80 with COLUMNS=80', async () => {
    for (const args of [['status'], ['metrics'], ['top'], ['profile', 'list'], ['profile', 'compare']]) {
      for (const [columns, max] of [['', 120], ['80', 80]] as const) {
        const r = await ctl(dir, args, { COLUMNS: columns });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(widest(r.stdout) <= max, `${args.join(' ')} with COLUMNS=${columns}: ${widest(r.stdout)} columns:\n${r.stdout}`);
      }
    }
  });

  it('says series exported, visibility as the smaller of CPU and memory with both, the same in status and metrics', async () => {
    const status = (await ctl(dir, ['status'])).stdout;
    const metrics = (await ctl(dir, ['metrics'])).stdout;
    assert.match(status, /^series\s+\d+ exported, \d+ in the baseline \(\d+ processes: \d+ kept individually, \d+ rolled up\)$/m);
    assert.match(metrics, /^series\s+\d+ exported, \d+ in the baseline; \d+ distinct over 24 h \(churn\)$/m);
    assert.ok(!/kept of/.test(status), status);
    for (const text of [status, metrics]) {
      const m = /^visibility\s+([\d.]+)% \(cpu ([\d.]+|n\/a)%?, memory ([\d.]+)%\)$/m.exec(text);
      assert.ok(m, text);
      const [, one, cpu, memory] = m;
      assert.equal(Number(one), cpu === 'n/a' ? Number(memory) : Math.min(Number(cpu), Number(memory)));
    }
    assert.match(status, /^datapoints\s+\d+ of \d+ \(-[\d.]+%\)$/m);
    // One precision for the two amounts of a line.
    const [, a, b] = /^cost \/ hour\s+\$\d+\.(\d+) exported vs \$\d+\.(\d+) baseline$/m.exec(status) ?? [];
    assert.ok(a && b && a.length === b.length, status);
  });

  it('marks the profile in force in profile list, and names the configured default apart', async () => {
    const set = await ctl(dir, ['profile', 'set', 'aggressive']);
    assert.equal(set.code, 0, set.stderr);
    const list = await ctl(dir, ['profile', 'list']);
    assert.match(list.stdout, /^aggressive \*/m);
    assert.match(list.stdout, /^balanced\s/m, 'the default is not starred');
    assert.match(list.stdout, /^\* in force in the running agent \(pid \d+\): aggressive: set by nrdot-plus-ctl/m);
    assert.match(list.stdout, /^configured default \(state\.active_profile\): balanced$/m);
    const json = JSON.parse((await ctl(dir, ['profile', 'list', '--json'])).stdout) as { in_force: string; profiles: Array<{ name: string; default: boolean; in_force: boolean }> };
    assert.equal(json.in_force, 'aggressive');
    assert.deepEqual(json.profiles.filter((p) => p.in_force).map((p) => p.name), ['aggressive']);
    assert.deepEqual(json.profiles.filter((p) => p.default).map((p) => p.name), ['balanced']);
  });

  it('top --watch redraws in place in a terminal, sorts on a key and restores the screen on q', async () => {
    const t = inTerminal(`${process.execPath} ${CTL} top --watch`, { NRDOT_DATA_DIR: dir, NO_COLOR: '1' });
    try {
      await t.until(/by usage; keys: u usage, c cpu, m/, 'the first screen');
      assert.match(t.output(), /\x1b\[\?1049h/, 'the alternate screen');
      t.child.stdin!.write('m');
      await t.until(/by memory[^\x1b]*\x1b\[H\x1b\[2J/, 'a whole screen sorted by memory');
      const screen = t.output().split('\x1b[2J').find((s) => s.includes('by memory'))!.replace(/\x1b\[H$/, '');
      const rss = [...screen.matchAll(/^\s*\d+ .*?([\d.]+) (B|kB|MB|GB)\s/gm)].map(([, n, unit]) => Number(n) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[unit!]!);
      assert.ok(rss.length > 3, screen);
      assert.deepEqual(rss, [...rss].sort((x, y) => y - x), 'largest memory first');
      assert.ok(widest(screen.replace(/\r/g, '')) <= 100, screen);
      const exited = once(t.child, 'exit');
      t.child.stdin!.write('q');
      const [code] = (await exited) as [number];
      assert.equal(code, 0);
      assert.match(t.output(), /\x1b\[\?25h\x1b\[\?1049l$/, 'cursor and screen restored');
    } finally {
      t.child.kill();
    }
  });

  it('top --watch in a pipe prints each interval once, and --sort orders without it', async () => {
    const byPid = await ctl(dir, ['top', '--sort', 'pid', '-n', '5']);
    const pids = [...byPid.stdout.matchAll(/^\s*(\d+) /gm)].map(([, p]) => Number(p));
    assert.deepEqual(pids, [...pids].sort((a, b) => a - b));
    const child = spawn(process.execPath, [CTL, 'top', '--watch', '-n', '3'], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`top --watch exited (${code}) before a second interval:\n${out}`)));
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if ((out.match(/ processes, by usage/g) ?? []).length >= 2) resolve();
      });
    });
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    assert.deepEqual(await exited, [0, null]);
    const times = [...out.matchAll(/^(\S+Z), profile/gm)].map(([, t]) => t);
    assert.equal(new Set(times).size, times.length, `each interval once: ${times.join(' ')}`);
    assert.ok(!out.includes('\x1b['), 'no terminal codes in a pipe');
  });
});

describe('messages that say what to do next', () => {
  it('names the valid profiles, and the likely one, for a typo in the configuration', async () => {
    const file = join(root, 'typo.yaml');
    writeFileSync(file, 'advanced:\n  time_based_rules: [{ name: night, schedule: "00:00-06:00", profile: aggresive }]\n');
    const r = await run(CTL, ['config', 'validate', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /typo\.yaml:2: advanced\.time_based_rules\.0\.profile: no profile named "aggresive" \(did you mean "aggressive"\? profiles: conservative, balanced, aggressive, minimal, emergency\)/);
  });

  it('says who holds a taken port and how to choose another', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const r = await run(AGENT, ['--interval', '3600'], { env: { ...process.env, NRDOT_HTTP_ADDR: `127.0.0.1:${port}`, NRDOT_CONFIG: '' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`NRDOT_HTTP_ADDR 127\\.0\\.0\\.1:${port}: address already in use: another program listens on port ${port} \\(\`ss -ltnp 'sport = :${port}'\` shows which\\); choose another address with NRDOT_HTTP_ADDR=127\\.0\\.0\\.1:PORT or server\\.listen .*port 0`));
    } finally {
      server.close();
    }
  });

  it('says what to check when the agent does not answer', async () => {
    // An "agent" that accepts connections and never answers.
    const dir = mkdtempSync(join(root, 'mute-'));
    const mute = spawn(process.execPath, ['-e', 'require("net").createServer(() => {}).listen(0, "127.0.0.1", function () { console.log(this.address().port) })', 'nrdot-plus'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [port] = (await once(mute.stdout, 'data')) as [Buffer];
      writeFileSync(join(dir, 'agent.json'), JSON.stringify({ pid: mute.pid, address: `127.0.0.1:${String(port).trim()}`, version: '0' }));
      const r = await ctl(dir, ['status']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`did not answer at 127\\.0\\.0\\.1:\\d+ within 15 s\\. Check that it is running and not stuck: \`ps -o pid,stat,etime,args -p ${mute.pid}\``));
      assert.match(r.stderr, /registered in .*agent\.json/);
      assert.match(r.stderr, /NRDOT_DATA_DIR \(now ".*mute-.*"\) names the data directory/);
    } finally {
      mute.kill();
    }
  });

  it('schedule show without rules says where to write one, with an example that validates', async () => {
    const dir = mkdtempSync(join(root, 'schedule-'));
    const r = await ctl(dir, ['schedule', 'show']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.replace(/\n/g, ' '), new RegExp(`under advanced\\.time_based_rules in ${dir}/optimization\\.yaml \\(no such file yet`));
    const example = r.stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2)).join('\n');
    const file = join(dir, 'optimization.yaml');
    writeFileSync(file, example + '\n');
    assert.equal((await run(CTL, ['config', 'validate', '--config', file])).code, 0, example);
    const shown = await ctl(dir, ['schedule', 'show', '--at', '2026-12-07T23:00:00Z', '--json']);
    assert.equal((JSON.parse(shown.stdout) as { profile: string }).profile, 'aggressive');
  });

  it('snapshot ends by naming the file, its size and the snapshot count', async () => {
    const file = join(root, 'two.ndjson.gz');
    const r = await run(CTL, ['snapshot', '--count', '2', '--interval', '0', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    const size = readFileSync(file).length;
    const m = /^snapshot: 2 snapshot\(s\) of [\d-]+ processes written to (\S+) \(([\d.]+) kB\)$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(m[1], file);
    assert.equal(Number(m[2]), Number((size / 1000).toFixed(1)));
  });
});

describe('the agent\'s own words', () => {
  it('on a one-process host, exports more than the baseline and says why, with one sign', async () => {
    const tree = buildProcfs({ processes: [{ pid: 1, name: 'init' }] });
    try {
      const r = await run(AGENT, ['--once', '--procfs', tree], { env: { ...process.env, NRDOT_HTTP_ADDR: '127.0.0.1:0', NRDOT_CONFIG: '' } });
      assert.equal(r.code, 0, r.stderr);
      const line = logLines(r.stderr).find((l) => typeof l.read_ms === 'number')!;
      assert.ok(Number(line.datapoints_exported) > Number(line.datapoints_baseline));
      assert.match(String(line.msg), /balanced: \d+ of 7 datapoints \(\+[\d.]+%, above the baseline: the agent's own self-metrics are exported and billed too/);
      assert.ok(!String(line.msg).includes('--'), String(line.msg));
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  it('logs readable lines on a terminal and JSON in its file, in a pipe and with NRDOT_LOG_FORMAT=json', async () => {
    const dir = mkdtempSync(join(root, 'pretty-'));
    const env = { NRDOT_DATA_DIR: dir, NRDOT_HTTP_ADDR: '127.0.0.1:0', NRDOT_CONFIG: '', NO_COLOR: '1' };
    const t = inTerminal(`${process.execPath} ${AGENT} --once 2>&1`, env);
    const [code] = (await once(t.child, 'exit')) as [number];
    assert.equal(code, 0, t.output());
    const lines = t.output().split('\r\n').filter(Boolean);
    assert.ok(lines.some((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}collected \d+ processes in [\d.]+ ms/.test(l)), t.output());
    assert.ok(lines.every((l) => !l.startsWith('{')), t.output());
    const file = readFileSync(join(dir, 'logs', 'nrdot-plus.log'), 'utf8').trim().split('\n');
    assert.ok(file.length >= 2 && file.every((l) => typeof (JSON.parse(l) as { msg: unknown }).msg === 'string'), 'the file stays JSON lines');
    const json = inTerminal(`${process.execPath} ${AGENT} --once 2>&1`, { ...env, NRDOT_LOG_FORMAT: 'json' });
    await once(json.child, 'exit');
    assert.ok(json.output().split('\r\n').filter(Boolean).every((l) => l.startsWith('{')), json.output());
    const bad = await run(AGENT, ['--once'], { env: { ...process.env, ...env, NRDOT_LOG_FORMAT: 'pretty' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /NRDOT_LOG_FORMAT: must be one of json, text, auto \(got "pretty"\)/);
  });
});
