/**
 * `nrdot-plus install` and `uninstall`, run for real into a temporary prefix that holds copies of
 * this machine's account files: the user, the directories with their modes and owners, the default
 * configuration, the systemd unit (checked by `systemd-analyze verify` where it exists), and the
 * unit's two capabilities, applied with setpriv(1) to an unprivileged uid reading real /proc.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig, parseConfig } from '../src/config/index.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { AGENT, CTL, REPO, logLines, run, type RunResult } from './run.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

function canRunAs(uid: number): boolean {
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(REPO, 'dist/src/agent/main.js'))})`], { uid, gid: uid, cwd: '/' });
  return probe.status === 0;
}

function setprivMissing(): string | undefined {
  return spawnSync('setpriv', ['--version']).error ? 'setpriv (util-linux) is not installed' : undefined;
}

/** systemd-analyze verify works without a running systemd; undefined when it is there. */
function verifySkip(): string | undefined {
  const r = spawnSync('systemd-analyze', ['--version']);
  return r.error || r.status !== 0 ? 'systemd-analyze is not installed' : undefined;
}

/** The value of KEY= in a unit's text (the last one, as systemd reads a single-valued key). */
function unitValue(unit: string, key: string): string {
  const values = [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
  assert.ok(values.length > 0, `${key}= in the unit`);
  return values[values.length - 1]!;
}

/** `name:x:id:...` of an account file. */
function accountId(file: string, name: string): number | undefined {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line === undefined ? undefined : Number(line.split(':')[2]);
}

function modeOf(path: string): string {
  return '0' + (statSync(path).mode & 0o7777).toString(8);
}

/** Runs a command (not a node script) as setpriv runs it; resolves with its output. */
function exec(file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('nrdot-plus install --prefix', { skip: isRoot ? undefined : 'needs root (install creates a user and changes owners)' }, () => {
  let prefix = '';
  let p: (path: string) => string;
  let uid = -1;
  let gid = -1;
  before(() => {
    prefix = mkdtempSync(join(tmpdir(), 'nrdot-install-'));
    chmodSync(prefix, 0o755); // as / is: the service user may traverse it
    p = (path: string): string => join(prefix, path);
    mkdirSync(p('etc'));
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, p(`etc/${f}`));
  });
  after(() => rmSync(prefix, { recursive: true, force: true }));

  const unitPath = (): string => p('etc/systemd/system/nrdot-plus.service');
  const configPath = (): string => p('etc/nrdot-plus/optimization.yaml');

  it('creates the user, the directories, the configuration and the unit, and says so', async () => {
    const r = await run(AGENT, ['install', '--prefix', prefix, '--no-start']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no warning: the service user can run the agent from this checkout');
    uid = accountId(p('etc/passwd'), 'nrdot-plus')!;
    gid = accountId(p('etc/group'), 'nrdot-plus')!;
    assert.ok(uid > 0 && uid < 1000, `a system uid: ${uid}`);
    assert.ok(gid > 0, `a group: ${gid}`);
    assert.equal(accountId('/etc/passwd', 'nrdot-plus'), undefined, 'the host is untouched');
    const entry = readFileSync(p('etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('nrdot-plus:'))!;
    assert.match(entry, /:\/var\/lib\/nrdot-plus:\/(usr\/)?s?bin\/(nologin|false)$/);
    assert.equal(Number(entry.split(':')[3]), gid, 'its primary group is nrdot-plus');

    const expected: Array<[string, string, number, number]> = [
      ['etc/nrdot-plus', '0755', 0, 0],
      ['var/lib/nrdot-plus', '0750', uid, gid],
      ['var/log/nrdot-plus', '0750', uid, gid],
      ['etc/nrdot-plus/optimization.yaml', '0640', 0, gid],
      ['etc/systemd/system/nrdot-plus.service', '0644', 0, 0],
    ];
    for (const [path, mode, owner, group] of expected) {
      const st = statSync(p(path));
      assert.equal(modeOf(p(path)), mode, path);
      assert.deepEqual([st.uid, st.gid], [owner, group], `${path} owner`);
      assert.match(r.stdout, new RegExp(`^created +\\S+ +${p(path).replace(/[.]/g, '\\.')}( |$)`, 'm'), `one line for ${path}`);
    }
    assert.match(r.stdout, /^created +user +nrdot-plus \(uid \d+/m);
    assert.match(r.stdout, /^created +group +nrdot-plus/m);
    assert.match(r.stdout, /nothing started; .*systemctl enable --now nrdot-plus/);
    assert.match(r.stdout, /^nrdot-plus installed under /m);
  });

  it('writes a unit with the real paths, the two capabilities, the limits and /proc left whole', () => {
    const unit = readFileSync(unitPath(), 'utf8');
    assert.equal(unitValue(unit, 'ExecStart'), `${process.execPath} ${AGENT}`);
    assert.equal(unitValue(unit, 'User'), 'nrdot-plus');
    assert.equal(unitValue(unit, 'Group'), 'nrdot-plus');
    assert.equal(unitValue(unit, 'ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(unitValue(unit, 'KillSignal'), 'SIGTERM');
    assert.equal(unitValue(unit, 'Restart'), 'on-failure');
    for (const key of ['AmbientCapabilities', 'CapabilityBoundingSet']) {
      assert.deepEqual(unitValue(unit, key).split(/\s+/).sort(), ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'], key);
    }
    assert.equal(unitValue(unit, 'NoNewPrivileges'), 'yes');
    assert.equal(unitValue(unit, 'MemoryMax'), '256M');
    assert.equal(unitValue(unit, 'MemoryHigh'), '200M');
    assert.equal(unitValue(unit, 'CPUQuota'), '25%');
    assert.deepEqual(unitValue(unit, 'Environment').split(' ').sort(), [
      'NRDOT_CONFIG=/etc/nrdot-plus/optimization.yaml',
      'NRDOT_DATA_DIR=/var/lib/nrdot-plus',
      'NRDOT_LOG_DIR=/var/log/nrdot-plus',
    ]);
    assert.equal(unitValue(unit, 'ProtectSystem'), 'strict');
    assert.deepEqual(unitValue(unit, 'ReadWritePaths').split(' '), ['/var/lib/nrdot-plus', '/var/log/nrdot-plus']);
    // Each of these would hide other processes (or parts of /proc) from the agent.
    for (const key of ['ProtectProc', 'ProcSubset', 'PrivateUsers', 'PrivatePIDs', 'MemoryDenyWriteExecute']) {
      assert.doesNotMatch(unit, new RegExp(`^${key}=`, 'm'), `${key}= is not set`);
    }
    assert.equal(unitValue(unit, 'WantedBy'), 'multi-user.target');
  });

  it('passes systemd-analyze verify', { skip: verifySkip() }, () => {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitPath()], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // Unknown keys and bad values are warnings on stderr with exit code 0.
    assert.equal(r.stderr.trim(), '', 'no warnings');
  });

  it('writes a default configuration that validates, and whose commented-out lines are the defaults', async () => {
    const v = await run(CTL, ['config', 'validate', '--config', configPath()]);
    assert.equal(v.code, 0, v.stderr);
    const text = readFileSync(configPath(), 'utf8');
    assert.deepEqual(parseConfig(text, configPath()), defaultConfig());
    // `#` then the line as it would be is a setting (`#cost_model:`, `#  currency: USD`); `# text`,
    // one space then a word, is prose.
    const uncommented = text.replace(/^#(?! \S|$)/gm, '');
    assert.notEqual(uncommented, text);
    assert.deepEqual(parseConfig(uncommented, 'uncommented'), defaultConfig());
  });

  it('gives the service user, with the unit\'s capabilities, what only root could read', { skip: setprivMissing() ?? (canRunAs(NOBODY) ? undefined : `the checkout at ${REPO} is not readable by other users`) }, async () => {
    const unit = readFileSync(unitPath(), 'utf8');
    const caps = (key: string): string => unitValue(unit, key).split(/\s+/).map((c) => '+' + c.replace(/^CAP_/, '').toLowerCase()).join(',');
    const asService = ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--no-new-privs'];
    const withCaps = [...asService, `--inh-caps=-all,${caps('AmbientCapabilities')}`, `--ambient-caps=${caps('AmbientCapabilities')}`, `--bounding-set=-all,${caps('CapabilityBoundingSet')}`];
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' }); // root's
    try {
      const read = async (args: string[]): Promise<Snapshot['processes'][number]> => {
        const r = await exec('setpriv', [...args, process.execPath, CTL, 'snapshot', '--interval', '0']);
        assert.equal(r.code, 0, r.stderr);
        const proc = (JSON.parse(r.stdout) as Snapshot).processes.find((q) => q.pid === sleeper.pid);
        assert.ok(proc, `root's sleep (pid ${sleeper.pid}) is listed`);
        return proc;
      };
      const plain = await read(asService);
      // (The fd count is not in this list: recent kernels give it to anyone as the size of fd/.)
      assert.equal(plain.io_read_bytes, null, 'without the capabilities, root\'s io is hidden');
      assert.equal(plain.exe, '', 'and so is its exe');
      const capable = await read(withCaps);
      assert.equal(typeof capable.io_read_bytes, 'number');
      assert.ok(capable.fds !== null && capable.fds >= 0);
      assert.match(capable.exe, /\/sleep$/);

      // The agent itself, with the installed configuration, as the service runs it.
      const env = ['env', `NRDOT_CONFIG=${configPath()}`, `NRDOT_DATA_DIR=${p('var/lib/nrdot-plus')}`, `NRDOT_LOG_DIR=${p('var/log/nrdot-plus')}`, 'NRDOT_HTTP_ADDR=127.0.0.1:0'];
      const agent = await exec('setpriv', [...withCaps, ...env, process.execPath, AGENT, '--once', '--interval', '1']);
      assert.equal(agent.code, 0, agent.stderr);
      const line = logLines(agent.stderr).find((l) => typeof l.processes === 'number');
      assert.ok(line && Number(line.processes) > 0, agent.stderr);
      assert.equal(line.profile, 'balanced');
    } finally {
      sleeper.kill();
    }
  });

  it('changes nothing when run again, says so, and keeps an edited configuration', async () => {
    appendFileSync(configPath(), '\n# edited by the operator\nexperiments: { enabled: false }\n');
    const edited = readFileSync(configPath(), 'utf8');
    const unitBefore = readFileSync(unitPath(), 'utf8');
    const r = await run(AGENT, ['install', '--prefix', prefix, '--no-start']);
    assert.equal(r.code, 0, r.stderr);
    const statuses = r.stdout.split('\n').filter((l) => /^\w+ +(user|group|directory|config|unit) /.test(l)).map((l) => l.split(/ +/)[0]);
    assert.equal(statuses.length, 7, r.stdout);
    assert.ok(statuses.every((s) => s === 'unchanged' || s === 'kept'), r.stdout);
    assert.match(r.stdout, /^kept +config .*not overwritten/m);
    assert.match(r.stdout, /^nothing to do: nrdot-plus is already installed/m);
    assert.equal(readFileSync(configPath(), 'utf8'), edited);
    assert.equal(readFileSync(unitPath(), 'utf8'), unitBefore);
    assert.equal(readFileSync(p('etc/passwd'), 'utf8').match(/^nrdot-plus:/gm)?.length, 1, 'one user');

    const j = await run(AGENT, ['install', '--prefix', prefix, '--no-start', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { changed: boolean; steps: Array<{ status: string; kind: string }> };
    assert.equal(out.changed, false);
    assert.equal(out.steps.length, 7);
  });

  it('gives the data directory back to the service user, recursively, when root took it', async () => {
    const data = p('var/lib/nrdot-plus');
    mkdirSync(join(data, 'queue'));
    writeFileSync(join(data, 'queue', 'batch'), 'x');
    chownSync(data, 0, 0);
    chmodSync(data, 0o755);
    const r = await run(AGENT, ['install', '--prefix', prefix, '--no-start']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^updated +directory .*var\/lib\/nrdot-plus \(mode 0755 -> 0750, owner 0:0 -> nrdot-plus:nrdot-plus, recursively\)/m);
    for (const path of [data, join(data, 'queue'), join(data, 'queue', 'batch')]) {
      assert.deepEqual([statSync(path).uid, statSync(path).gid], [uid, gid], path);
    }
    assert.equal(modeOf(data), '0750');
    assert.match(r.stdout, /^nrdot-plus installed/m);
  });

  it('refuses the agent\'s own options after install', async () => {
    const r = await run(AGENT, ['install', '--prefix', prefix, '--once']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--once: an option of the agent, not of install/);
  });

  it('uninstall removes the unit and keeps the configuration, the data, the logs and the user', async () => {
    const r = await run(AGENT, ['uninstall', '--prefix', prefix]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(unitPath()));
    assert.match(r.stdout, /^removed +unit /m);
    assert.ok(existsSync(configPath()));
    assert.match(readFileSync(configPath(), 'utf8'), /edited by the operator/);
    assert.ok(existsSync(p('var/lib/nrdot-plus/queue/batch')));
    assert.ok(existsSync(p('var/log/nrdot-plus')));
    assert.equal(accountId(p('etc/passwd'), 'nrdot-plus'), uid);
    assert.match(r.stdout, /kept \(--purge removes them\)/);

    const again = await run(AGENT, ['uninstall', '--prefix', prefix]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^nothing to do: the service is not installed/m);
  });

  it('uninstall --purge removes everything, the user and the group too', async () => {
    const r = await run(AGENT, ['uninstall', '--prefix', prefix, '--purge']);
    assert.equal(r.code, 0, r.stderr);
    for (const path of ['etc/nrdot-plus', 'var/lib/nrdot-plus', 'var/log/nrdot-plus', 'etc/systemd/system/nrdot-plus.service']) {
      assert.ok(!existsSync(p(path)), `${path} is gone`);
    }
    assert.equal(accountId(p('etc/passwd'), 'nrdot-plus'), undefined);
    assert.equal(accountId(p('etc/group'), 'nrdot-plus'), undefined);
    assert.match(r.stdout, /^removed +user +nrdot-plus/m);
    assert.match(r.stdout, /^nrdot-plus uninstalled/m);

    const again = await run(AGENT, ['uninstall', '--prefix', prefix, '--purge']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^nothing to do/m);
  });

  it('refuses a prefix without account files, saying what to copy', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'nrdot-install-bare-'));
    try {
      const r = await run(AGENT, ['install', '--prefix', bare, '--no-start']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`there is no ${bare}/etc/passwd.*cp /etc/passwd /etc/group`));
      assert.equal(r.stdout, '');
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('nrdot-plus install as an unprivileged user', () => {
  // As root, run it as nobody; otherwise as ourselves.
  const asUser = isRoot ? { uid: NOBODY, gid: NOBODY, cwd: '/' } : {};
  const skip = isRoot && !canRunAs(NOBODY) ? `the checkout at ${REPO} is not readable by uid ${NOBODY}` : undefined;

  it('exits 1 and says to use sudo', { skip }, async () => {
    for (const command of ['install', 'uninstall']) {
      const r = await run(AGENT, [command, '--prefix', tmpdir()], asUser);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `nrdot-plus: must run as root (sudo nrdot-plus ${command})\n`);
    }
  });

  it('leaves the agent\'s own flags and help working beside the new commands', { skip }, async () => {
    const help = await run(AGENT, ['--help'], asUser);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--once/);
    assert.match(help.stdout, /^ +install \[options\]/m);
    assert.match(help.stdout, /^ +uninstall \[options\]/m);
    const bad = await run(AGENT, ['--interval', '0'], asUser);
    assert.equal(bad.code, 2, 'the root command still parses its own options');
  });
});
