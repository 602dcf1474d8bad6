/**
 * The control loop as users meet it: `simulate --control` over a recording (the timeline, and the
 * profile in force in every interval's export), and the daemon's loop driven by nrdot-plus-ctl
 * (history, journal, stop that survives a restart, start, force-check, NRDOT_ENABLE_CONTROL_LOOP).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifySignature } from '../src/alerts/webhook.js';
import { lockText } from '../src/file-lock.js';
import { AgentProcess, NO_PROXY_ENV } from './agent-process.js';
import { AGENT, CTL, run, type RunResult } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-control-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const dataDir = (): string => mkdtempSync(join(root, `data-${++dirs}-`));
const ctl = (dir: string, args: string[]): Promise<RunResult> => run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: dir, NO_COLOR: '1' } });

interface Timeline {
  time: number;
  from: string;
  to: string;
  who: string;
  reason: string;
}

interface ControlRun {
  intervals: number;
  within_budget: number;
  changes: number;
  profiles: Record<string, number>;
  coverage_critical_min: number;
  timeline: Timeline[];
}

// 30 snapshots of a web host, 30 s apart (1764115200 is Wednesday 2025-11-26 00:00 UTC).
const recording = join(root, 'web.ndjson.gz');
before(async () => {
  const synth = await run(CTL, ['synth', '--archetype', 'web-php', '--intervals', '30', '--interval', '30', '--output', recording]);
  assert.equal(synth.code, 0, synth.stderr);
});

/** The value of `nrdot.profile.active`'s `nrdot.profile` attribute in one OTLP JSON request. */
function activeProfile(request: { resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeMetrics: Array<{ metrics: Array<{ name: string; gauge?: { dataPoints: Array<{ attributes: Array<{ key: string; value: { stringValue?: string } }> }> } }> }> }> }): string[] {
  const found: string[] = [];
  for (const rm of request.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.name !== 'nrdot.profile.active') continue;
        for (const dp of m.gauge!.dataPoints) found.push(dp.attributes.find((a) => a.key === 'nrdot.profile')!.value.stringValue!);
      }
    }
  }
  return found;
}

describe('simulate --control', () => {
  it('runs the loop on the recording\'s time and exports the profile in force in every interval', async () => {
    const out = join(root, 'export.jsonl');
    // A budget only emergency fits, below balanced's cost but above half of it: the loop steps down one
    // profile per dwell (300 s = 10 snapshots), never straight to emergency.
    const r = await run(CTL, ['simulate', '--input', recording, '--control', '--budget-per-hour', '0.0009', '--json', '--export-file', out]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as ControlRun;
    assert.equal(result.intervals, 30);
    assert.deepEqual(result.timeline.map((e) => `${e.from}>${e.to}`), ['balanced>aggressive', 'aggressive>minimal', 'minimal>emergency']);
    assert.equal(result.timeline[0]!.from, 'balanced', 'starts from the configured profile');
    for (const e of result.timeline) {
      assert.equal(e.who, 'control loop');
      assert.match(e.reason, /^cost \$[\d.]+\/h above budget \$0\.000900\/h: one step toward savings/);
    }
    for (let k = 1; k < result.timeline.length; k++) {
      assert.ok(result.timeline[k]!.time - result.timeline[k - 1]!.time >= 299, 'never faster than the dwell');
    }
    assert.equal(result.coverage_critical_min, 1, 'critical processes stay covered in every profile');

    // Every interval's export names the profile in force then, as a self-metric, never on process series.
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Parameters<typeof activeProfile>[0] & { resourceMetrics: Array<{ resource: { attributes: Array<{ key: string }> } }> });
    assert.equal(lines.length, 30);
    const start = 1764115200;
    const expected = Array.from({ length: 30 }, (_, k) => {
      const t = start + k * 30;
      return result.timeline.filter((e) => e.time <= t + 1).at(-1)?.to ?? 'balanced';
    });
    assert.deepEqual(lines.map((l) => activeProfile(l)), expected.map((p) => [p]));
    const processAttrs = lines.flatMap((l) => l.resourceMetrics.filter((rm) => rm.resource.attributes.some((a) => a.key === 'process.pid')).flatMap((rm) => rm.resource.attributes.map((a) => a.key)));
    assert.ok(processAttrs.length > 0);
    assert.ok(!processAttrs.some((k) => k.startsWith('nrdot.profile')), 'the profile is not a resource attribute of process series');
  });

  it('prints a summary and the timeline, and gives visibility back when the budget has room for it', async () => {
    // Half the baseline's cost leaves room for conservative: after a calm dwell, the loop gives visibility back.
    const r = await run(CTL, ['simulate', '--input', recording, '--control', '--target-reduction', '0.5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /budget\s+relative, 50\.0% of the baseline's cost/);
    assert.match(r.stdout, /within budget\s+30 of 30 intervals \(100\.0%\)/);
    assert.match(r.stdout, /profile changes\s+1 \(control loop 1, emergency guard 0, schedule 0\)/);
    assert.match(r.stdout.replace(/\n +/g, ' '), /balanced\s+conservative\s+control loop\s+\d+ series below target 1000 and cost .* for 330 s: one step toward visibility\n/);
    assert.match(r.stdout, /alerts\s+none/, 'balanced meets the default minimum visibility on this host');
  });

  it('never steps toward a profile that would not meet the minimum visibility either', async () => {
    // No profile shows 75% of this host's usage (conservative about 40%, by its shadow); the budget has
    // room for conservative, so only the calm rule gives visibility back, after its dwell.
    const r = await run(CTL, ['simulate', '--input', recording, '--control', '--target-reduction', '0.5', '--json'], { env: { ...process.env, NRDOT_MIN_COVERAGE: '0.75' } });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as ControlRun;
    assert.equal(result.timeline.length, 1);
    assert.match(result.timeline[0]!.reason, /^\d+ series below target 1000 and cost .* one step toward visibility/, 'the calm rule\'s step, not the visibility rule\'s');
    assert.match(result.timeline[0]!.reason, /visibility [\d.]+% is below 75\.0%, but no profile reaches it on this host \(best: conservative [\d.]+%, shadow\)$/);
  });

  it('follows the schedule on the recording\'s time, and puts the emergency guard over it', async () => {
    const config = join(root, 'scheduled.yaml');
    writeFileSync(config, 'advanced:\n  time_based_rules: [{ name: late, schedule: "Wed 00:05-00:10", profile: minimal, timezone: UTC }]\n');
    const r = await run(CTL, ['simulate', '--input', recording, '--control', '--target-reduction', '0.5', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const scheduled = (JSON.parse(r.stdout) as ControlRun).timeline.filter((e) => e.who === 'schedule');
    assert.deepEqual(
      scheduled.map((e) => [new Date(e.time * 1000).toISOString().slice(11, 16), e.to, e.reason]),
      [
        ['00:05', 'minimal', 'schedule: rule "late" (Wed 00:05-00:10, UTC) began'],
        ['00:10', scheduled[0]!.from, 'schedule: rule "late" ended'],
      ],
    );
    // Twice the budget under a schedule: the guard wins and keeps emergency in force.
    writeFileSync(config, 'advanced:\n  time_based_rules: [{ name: always, schedule: "00:00-24:00", profile: conservative }]\n');
    const g = await run(CTL, ['simulate', '--input', recording, '--control', '--budget-per-hour', '0.0005', '--config', config, '--json']);
    assert.equal(g.code, 0, g.stderr);
    const guarded = JSON.parse(g.stdout) as ControlRun;
    const guard = guarded.timeline.find((e) => e.who === 'emergency guard')!;
    assert.equal(guard.to, 'emergency');
    assert.match(guard.reason, /^cost \$[\d.]+\/h above 2 x budget \$0\.000500\/h under the schedule's conservative: emergency guard/);
    assert.ok(guarded.profiles.emergency! > 20, JSON.stringify(guarded.profiles));
  });

  it('refuses budgets without --control, two budgets, and nonsense, naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--budget-per-hour', '1'], /--budget-per-hour: only with --control/],
      [['--control', '--budget-per-hour', '1', '--target-reduction', '0.5'], /--budget-per-hour.*cannot be used with.*--target-reduction|--target-reduction.*cannot be used with.*--budget-per-hour/],
      [['--control', '--budget-per-hour', '-2'], /--budget-per-hour.*a cost per hour above 0/],
      [['--control', '--target-reduction', '1.5'], /--target-reduction.*a fraction between 0 and 1/],
      [['--control', '--profile', 'minimal'], /--control starts from the configured profile/],
    ];
    for (const [args, message] of cases) {
      const r = await run(CTL, ['simulate', '--input', recording, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

interface ControlStatus {
  running: boolean;
  stopped: { who: string; reason: string } | null;
  last_check: { outcome: string } | null;
}

describe('the daemon\'s control loop', () => {
  it('steps over budget, records every check, journals its changes, and stays stopped across a restart', async () => {
    const dir = dataDir();
    const env = { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_MAX_COST_HOUR: '0.0009', NRDOT_ENABLE_CONTROL_LOOP: 'true' };
    let agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], env);
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      const history = JSON.parse((await ctl(dir, ['control', 'history', '--limit', '100', '--json'])).stdout) as { checks: Array<{ outcome: string; from: string; to: string; inputs: { costPerHour: number; budget: number } }> };
      // 30 snapshots 30 s apart: a check at each one after the first.
      assert.equal(history.checks.length, 29);
      assert.ok(history.checks.every((c) => c.inputs.budget === 0.0009 && c.inputs.costPerHour > 0));
      const steps = history.checks.filter((c) => c.from !== c.to);
      assert.ok(steps.length >= 2, JSON.stringify(steps));
      const journal = JSON.parse((await ctl(dir, ['profile', 'show', '--json'])).stdout) as { journal: Array<{ who: string; reason: string }> };
      assert.ok(journal.journal.some((e) => e.who === 'control loop' && /above (2 x )?budget/.test(e.reason)), JSON.stringify(journal.journal));
      const text = await ctl(dir, ['control', 'history', '--changes']);
      assert.match(text.stdout, /step\s+balanced -> aggressive/);

      const stop = await ctl(dir, ['control', 'stop', '--reason', 'investigating']);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /control loop stopped/);
      await agent.stop();
      agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], env);
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the second replay');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus;
      assert.equal(status.running, false);
      assert.equal(status.stopped!.reason, 'investigating');
      assert.match((await ctl(dir, ['status'])).stdout, /control loop\s+stopped by .+ \(investigating\); nrdot-plus-ctl control start/);
      const checks = JSON.parse((await ctl(dir, ['control', 'history', '--limit', '1000', '--json'])).stdout) as { checks: Array<{ reason: string }> };
      assert.ok(checks.checks.filter((c) => c.reason === 'the loop is stopped').length >= 29, 'a stopped loop records its checks and changes nothing');

      const start = await ctl(dir, ['control', 'start']);
      assert.match(start.stdout, /control loop started/);
      // After the replay's last interval: the check looks at that interval again, with the loop running.
      const forced = JSON.parse((await ctl(dir, ['control', 'force-check', '--json'])).stdout) as { check: { outcome: string; reason: string; inputs: { budget: number } } };
      assert.ok(['hold', 'step', 'emergency', 'frozen'].includes(forced.check.outcome), JSON.stringify(forced.check));
      assert.notEqual(forced.check.reason, 'the loop is stopped');
      assert.equal(forced.check.inputs.budget, 0.0009);
      const forcedText = await ctl(dir, ['control', 'force-check']);
      assert.match(forcedText.stdout, /\/ budget \$0\.000900\/h/);
      const human = await ctl(dir, ['control', 'status']);
      assert.match(human.stdout, /loop\s+running/);
      assert.match(human.stdout, /budget\s+absolute: \$0\.000900\/h/);
    } finally {
      await agent.stop();
    }
  });

  it('is off on a fresh install: the profile stays over budget; control start turns it on, across a restart', async () => {
    const dir = dataDir();
    // Over budget from the first check: a running loop would step toward savings.
    const env = { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_MAX_COST_HOUR: '0.0009' };
    let agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], env);
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { profile: { profile: string } };
      assert.equal(status.running, false);
      assert.equal(status.stopped!.who, 'configuration');
      assert.match(status.stopped!.reason, /control_loop\.enabled is false, the default/);
      assert.equal(status.profile.profile, 'balanced');
      const journal = JSON.parse((await ctl(dir, ['profile', 'show', '--json'])).stdout) as { journal: Array<{ who: string }> };
      assert.deepEqual(journal.journal.filter((e) => e.who === 'control loop'), [], 'no change by the loop');

      const start = await ctl(dir, ['control', 'start', '--reason', 'last phase of the rollout']);
      assert.equal(start.code, 0, start.stderr);
      await agent.stop();
      agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], env);
      await agent.waitForLog((l) => /control loop: balanced -> aggressive/.test(String(l.msg)), 30_000, 'a step by the started loop after the restart');
      const after = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { started: { who: string; reason: string } };
      assert.equal(after.running, true);
      assert.equal(after.started.reason, 'last phase of the rollout');
    } finally {
      await agent.stop();
    }
  });

  it('holds when no profile reaches the minimum visibility, says so once in the log, and status shows it', async () => {
    const dir = dataDir();
    const env = { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_ENABLE_CONTROL_LOOP: 'true', NRDOT_MIN_COVERAGE: '0.75' };
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], env);
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      const said = agent.lines.filter((l) => /no profile reaches visibility 75\.0% on this host \(best: conservative [\d.]+%\)/.test(String(l.msg)));
      assert.equal(said.length, 1, 'once, not at every check');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { visibility_out_of_reach: { best: string } };
      assert.equal(status.visibility_out_of_reach.best, 'conservative');
      assert.match((await ctl(dir, ['control', 'status'])).stdout, /min visibility\s+75\.0%: out of reach on this host \(best: conservative [\d.]+%\); the visibility rule holds/);
      const history = JSON.parse((await ctl(dir, ['control', 'history', '--limit', '100', '--json'])).stdout) as { checks: Array<{ from: string; to: string; reason: string }> };
      assert.ok(!history.checks.some((c) => c.from !== c.to && c.reason.startsWith('visibility')), 'no step by the visibility rule');
    } finally {
      await agent.stop();
    }
  });

  it('starts stopped with NRDOT_ENABLE_CONTROL_LOOP=false, and refuses a value that is not a boolean', async () => {
    const dir = dataDir();
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast'], { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '', NRDOT_ENABLE_CONTROL_LOOP: 'false' });
    try {
      await agent.waitForLog((l) => /replay finished/.test(String(l.msg)), 30_000, 'the end of the replay');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus;
      assert.equal(status.running, false);
      assert.equal(status.stopped!.who, 'configuration');
      assert.match(status.stopped!.reason, /NRDOT_ENABLE_CONTROL_LOOP=true turns it on/);
    } finally {
      await agent.stop();
    }
    const bad = await run(AGENT, ['--once'], { env: { ...process.env, NRDOT_DATA_DIR: dataDir(), NRDOT_CONFIG: '', NRDOT_ENABLE_CONTROL_LOOP: 'maybe' } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /NRDOT_ENABLE_CONTROL_LOOP/);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that keeps every request; `until` resolves when `done` says so. */
async function receiver(): Promise<{ url: string; got: Received[]; until: (done: (got: Received[]) => boolean) => Promise<void>; close: () => Promise<void> }> {
  const got: Received[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/T0KEN-IN-PATH`,
    got,
    until: (done) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; received ${JSON.stringify(got.map((g) => g.headers['x-nrdot-event']))}`)), 20_000);
        const check = (): void => {
          if (!done(got)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('webhook events from the daemon', () => {
  it('posts signed profile_change and budget_exceeded events, and rollback', async () => {
    const hook = await receiver();
    const dir = dataDir();
    const config = join(dir, 'optimization.yaml');
    const secret = 's3cret-for-hmac';
    writeFileSync(
      config,
      `webhooks:\n  profile_change: { url: "${hook.url}", secret: "${secret}" }\n  budget_exceeded: { url: "${hook.url}", secret: "${secret}" }\n  rollback: { url: "${hook.url}", secret: "${secret}" }\n`,
    );
    const agent = AgentProcess.start(['--replay', recording, '--replay-pace', 'fast', '--config', config], { NRDOT_DATA_DIR: dir, NRDOT_MAX_COST_HOUR: '0.0009', NRDOT_ENABLE_CONTROL_LOOP: 'true' });
    try {
      const events = (got: Received[]): string[] => got.map((g) => String(g.headers['x-nrdot-event']));
      await hook.until((got) => events(got).includes('budget_exceeded') && events(got).filter((e) => e === 'profile_change').length >= 2);
      for (const g of hook.got) {
        assert.ok(verifySignature(secret, g.body, g.headers['x-nrdot-signature'] as string), `signature of ${g.body}`);
        const body = JSON.parse(g.body) as { event: string; host: string; time: string; details: Record<string, unknown> };
        assert.equal(body.event, g.headers['x-nrdot-event']);
        assert.ok(body.host.length > 0);
        assert.match(body.time, /^2025-11-26T00:\d\d:\d\d/, 'the recording\'s time');
      }
      const change = hook.got.map((g) => JSON.parse(g.body) as { event: string; details: { from: string; to: string; who: string; reason: string } }).find((b) => b.event === 'profile_change')!;
      assert.deepEqual([change.details.from, change.details.to, change.details.who], ['balanced', 'aggressive', 'control loop']);
      assert.match(change.details.reason, /^cost .* above budget/);
      const budget = JSON.parse(hook.got.find((g) => g.headers['x-nrdot-event'] === 'budget_exceeded')!.body) as { details: { budget_per_hour: number } };
      assert.equal(budget.details.budget_per_hour, 0.0009);

      // A reload that brings a time rule changes the profile in force: journaled and sent like any change.
      writeFileSync(config, readFileSync(config, 'utf8') + 'advanced:\n  time_based_rules: [{ name: allday, schedule: "00:00-23:59", profile: conservative }]\n');
      const reload = await ctl(dir, ['config', 'reload']);
      assert.equal(reload.code, 0, reload.stderr);
      await hook.until((got) => got.some((g) => g.headers['x-nrdot-event'] === 'profile_change' && (JSON.parse(g.body) as { details: { to: string } }).details.to === 'conservative'));
      const journal = JSON.parse((await ctl(dir, ['profile', 'show', '--json'])).stdout) as { journal: Array<{ to: string; who: string; reason: string }> };
      // The replay goes on meanwhile: the emergency guard may already have followed it.
      const scheduled = journal.journal.find((e) => e.who === 'schedule')!;
      assert.deepEqual([scheduled.to, scheduled.reason], ['conservative', 'schedule: rule "allday" (00:00-23:59, UTC) began']);

      const rollback = await ctl(dir, ['rollback', '--reason', 'bad rollout']);
      assert.equal(rollback.code, 0, rollback.stderr);
      assert.match(rollback.stdout, /Manual review required/);
      await hook.until((got) => events(got).includes('rollback'));
      const rb = JSON.parse(hook.got.find((g) => g.headers['x-nrdot-event'] === 'rollback')!.body) as { details: { reason: string } };
      assert.equal(rb.details.reason, 'bad rollout');
      // The log never carries the secret or the URL's path.
      assert.ok(!agent.stderr.includes(secret) && !agent.stderr.includes('T0KEN-IN-PATH'));
    } finally {
      await agent.stop();
      await hook.close();
    }
  });
});

describe('emergency rollback', () => {
  it('stops the loop, pins conservative, archives state and logs without secrets, and keeps it all across a restart', async () => {
    const dir = dataDir();
    const config = join(dir, 'optimization.yaml');
    const secret = 'whsec-0123456789abcdef';
    writeFileSync(config, `webhooks:\n  rollback: { url: "http://127.0.0.1:9/hooks/PATH-SECRET-42", secret: "${secret}" }\n`);
    const env = { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: config };
    let agent = AgentProcess.start(['--interval', '1'], env);
    try {
      await agent.waitForLog((l) => typeof l.processes === 'number', 20_000, 'the first interval');
      const r = await ctl(dir, ['rollback', '--reason', 'bad rollout of aggressive']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /rolled back: control loop stopped, conservative pinned until unpinned/);
      assert.match(r.stdout, /Manual review required/);
      const archive = /archive: (\S+\.tar\.gz)/.exec(r.stdout)![1]!;
      assert.ok(archive.startsWith(join(dir, 'archives')), archive);
      assert.equal(statSync(archive).mode & 0o777, 0o600);
      const out = mkdtempSync(join(root, 'extract-'));
      execFileSync('tar', ['-xzf', archive, '-C', out]);
      const [top] = readdirSync(out);
      const files = readdirSync(join(out, top!), { recursive: true }).map(String);
      for (const f of ['manifest.json', 'config.yaml', 'state.db', 'journal.json', 'status.json']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      assert.ok(files.some((f) => f.startsWith('logs/nrdot-plus.log')), 'the log');
      for (const f of files) {
        const path = join(out, top!, f);
        if (statSync(path).isDirectory()) continue;
        const bytes = readFileSync(path, 'latin1');
        assert.ok(!bytes.includes(secret) && !bytes.includes('PATH-SECRET-42'), `no secret in ${f}`);
      }
      const journal = JSON.parse(readFileSync(join(out, top!, 'journal.json'), 'utf8')) as Array<{ to: string; reason: string }>;
      assert.ok(journal.some((e) => e.to === 'conservative' && e.reason === 'rollback: bad rollout of aggressive'), JSON.stringify(journal));

      await agent.stop();
      agent = AgentProcess.start(['--interval', '1'], env);
      await agent.waitForLog((l) => typeof l.processes === 'number', 20_000, 'the first interval after the restart');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { profile: { profile: string; source: string } };
      assert.equal(status.running, false);
      assert.equal(status.stopped!.reason, 'rollback: bad rollout of aggressive');
      assert.deepEqual([status.profile.profile, status.profile.source], ['conservative', 'pin']);
      assert.equal((await ctl(dir, ['profile', 'unpin'])).code, 0);
      assert.equal((await ctl(dir, ['control', 'start'])).code, 0);
      const after = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { profile: { profile: string } };
      assert.equal(after.running, true);
      assert.equal(after.profile.profile, 'balanced');
    } finally {
      await agent.stop();
    }
    assert.ok(!existsSync(join(dir, 'agent.json')));
  });
});

describe('emergency rollback with the agent down', () => {
  it('rolls back in the data directory, in force when the agent starts, and names an agent that holds it without answering', async () => {
    const dir = dataDir();
    const env = { NRDOT_DATA_DIR: dir, NRDOT_CONFIG: '' };
    let agent = AgentProcess.start(['--interval', '1'], env);
    await agent.waitForLog((l) => typeof l.processes === 'number', 20_000, 'the first interval');
    await agent.stop();

    const r = await ctl(dir, ['rollback', '--reason', 'agent wedged']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rolled back: control loop stopped, conservative pinned until unpinned/);
    assert.match(r.stdout, /the agent is not running: done in its data directory/);
    const archive = /archive: (\S+\.tar\.gz)/.exec(r.stdout)![1]!;
    assert.ok(existsSync(archive));
    assert.ok(!existsSync(join(dir, 'agent.lock')), 'the lock is given back');

    agent = AgentProcess.start(['--interval', '1'], env);
    try {
      const started = await agent.waitForLog((l) => typeof l.listen === 'string', 20_000, 'the start line');
      assert.equal(started.profile, 'conservative');
      const status = JSON.parse((await ctl(dir, ['control', 'status', '--json'])).stdout) as ControlStatus & { profile: { source: string } };
      assert.equal(status.running, false);
      assert.equal(status.stopped!.reason, 'rollback: agent wedged');
      assert.equal(status.profile.source, 'pin');
    } finally {
      await agent.stop();
    }

    // A live process holds the lock but registered no API: named, nothing changed.
    writeFileSync(join(dir, 'agent.lock'), lockText(process.pid));
    const held = await ctl(dir, ['rollback']);
    assert.equal(held.code, 1, held.stderr);
    assert.match(held.stderr, new RegExp(`nrdot-plus \\(pid ${process.pid}\\) holds .* but its API does not answer; stop it`));
    rmSync(join(dir, 'agent.lock'));

    const empty = await ctl(dataDir(), ['rollback']);
    assert.equal(empty.code, 3);
    assert.match(empty.stderr, /no state store to roll back/);
  });
});
