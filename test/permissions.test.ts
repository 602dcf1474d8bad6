/**
 * Permission denied is normal for an unprivileged agent: fields become null, errors are counted per
 * kind and muted in the log. Runs the real executables as the unprivileged user `nobody`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildProcfs } from './fakeproc.js';
import { AGENT, CTL, REPO, logLines, run } from './run.js';
import type { Snapshot } from '../src/snapshot/types.js';

const NOBODY = 65534;
const asNobody = { uid: NOBODY, gid: NOBODY, cwd: '/' };

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run the agent as an unprivileged user';
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(REPO, 'dist/src/agent/main.js'))})`], asNobody);
  if (probe.status !== 0) return `the checkout at ${REPO} is not readable by uid ${NOBODY}`;
  return undefined;
}
const skip = skipReason();

const tree = buildProcfs({
  processes: [
    { pid: 1, name: 'init', uid: 0 },
    { pid: 50, name: 'secretive', uid: 0 },
    { pid: 60, name: 'hidden', uid: 0 },
  ],
});
// As the kernel does for another user's process: io is 0400, fd/ is 0500, both owned by root.
chmodSync(join(tree, '50', 'io'), 0o400);
chmodSync(join(tree, '50', 'fd'), 0o500);
// As with hidepid=1: another user's process is listed but cannot be read at all.
chmodSync(join(tree, '60', 'stat'), 0o400);
after(() => rmSync(tree, { recursive: true, force: true }));

function collectedLine(stderr: string): Record<string, unknown> {
  const line = logLines(stderr).find((l) => typeof l.processes === 'number');
  assert.ok(line, `a collected line in:\n${stderr}`);
  return line;
}

describe('permission denied', { skip }, () => {
  it('nulls the fields, counts them per kind and mutes them in the log', async () => {
    const r = await run(AGENT, ['--once', '--procfs', tree], asNobody);
    assert.equal(r.code, 0, r.stderr);
    const line = collectedLine(r.stderr);
    assert.equal(line.processes, 2);
    assert.deepEqual(line.permission_errors_by_kind, { io: 1, fd: 1, hidden: 1 });
    assert.equal(line.vanished, 0, 'a hidden process is not reported as exited');
    assert.match(String(line.msg), /3 permission errors muted/);
    assert.ok(!logLines(r.stderr).some((l) => l.level === 40), 'no per-error lines while muted');

    const s = await run(CTL, ['snapshot', '--procfs', tree, '--interval', '0'], asNobody);
    assert.equal(s.code, 0, s.stderr);
    const snap = JSON.parse(s.stdout) as Snapshot;
    const p = snap.processes.find((q) => q.pid === 50)!;
    assert.equal(p.io_read_bytes, null);
    assert.equal(p.io_write_bytes, null);
    assert.equal(p.fds, null);
    assert.equal(snap.processes.find((q) => q.pid === 1)!.fds, 3);
  });

  it('logs each one when unmuted', async () => {
    const r = await run(AGENT, ['--once', '--procfs', tree], { ...asNobody, env: { ...process.env, NRDOT_MUTE_PERMISSION_ERRORS: 'false' } });
    assert.equal(r.code, 0, r.stderr);
    const warnings = logLines(r.stderr).filter((l) => l.level === 40);
    assert.deepEqual(warnings.map((w) => [w.process_pid, w.kind]).sort(), [[50, 'fd'], [50, 'io'], [60, 'hidden']]);
  });

  it('reads the real /proc unprivileged without errors', async () => {
    const r = await run(AGENT, ['--once'], asNobody);
    assert.equal(r.code, 0, r.stderr);
    const line = collectedLine(r.stderr);
    assert.ok(Number(line.processes) > 0);
    assert.equal(line.other_errors, 0);
    // Root's processes keep their io and fd tables from other users.
    assert.ok(Number(line.permission_errors) > 0, JSON.stringify(line));
  });
});
