/**
 * `nrdot-plus install` and `nrdot-plus uninstall`: the agent as a systemd service (SPEC, "Files and
 * defaults"; docs/install.md). Both are idempotent and print one line per user, directory and file.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { SYSTEM_CONFIG, SYSTEM_DATA_DIR } from '../config/paths.js';
import { UsageError, UserError } from '../command/errors.js';
import { configure } from '../command/program.js';
import { AccountFiles, SERVICE_USER, systemPath, type Account } from './system-user.js';
import { AGENT_BIN, PACKAGING_DIR, UNIT_NAME, execStart, renderUnit, systemctl, systemdRunning } from './systemd.js';

export const SYSTEM_LOG_DIR = '/var/log/nrdot-plus';
const UNIT_DIR = '/etc/systemd/system';
/** The service's two capabilities, as setpriv(1) names them. */
const CAPS = '+dac_read_search,+sys_ptrace';

/** The installed paths, under a prefix or not. */
interface Layout {
  prefix: string;
  configDir: string;
  config: string;
  dataDir: string;
  logDir: string;
  unitDir: string;
  unit: string;
}

function layout(prefix: string): Layout {
  const at = (p: string): string => (prefix ? join(prefix, p) : p);
  return {
    prefix,
    configDir: at(dirname(SYSTEM_CONFIG)),
    config: at(SYSTEM_CONFIG),
    dataDir: at(SYSTEM_DATA_DIR),
    logDir: at(SYSTEM_LOG_DIR),
    unitDir: at(UNIT_DIR),
    unit: at(join(UNIT_DIR, UNIT_NAME)),
  };
}

type Status = 'created' | 'updated' | 'ran' | 'removed' | 'unchanged' | 'kept' | 'absent';
const CHANGES: ReadonlySet<Status> = new Set(['created', 'updated', 'ran', 'removed']);

interface Step {
  status: Status;
  kind: 'user' | 'group' | 'directory' | 'config' | 'unit' | 'systemctl' | 'service';
  target: string;
  detail?: string;
}

/** What a command did: printed as it happens, or as one JSON object at the end. */
class Report {
  readonly steps: Step[] = [];
  readonly notes: string[] = [];
  readonly warnings: string[] = [];

  constructor(private readonly json: boolean) {}

  step(status: Status, kind: Step['kind'], target: string, detail?: string): void {
    this.steps.push(detail === undefined ? { status, kind, target } : { status, kind, target, detail });
    if (!this.json) process.stdout.write(`${status.padEnd(9)} ${kind.padEnd(9)} ${target}${detail ? ` (${detail})` : ''}\n`);
  }

  note(text: string): void {
    this.notes.push(text);
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  warn(text: string): void {
    this.warnings.push(text);
    process.stderr.write(`nrdot-plus: warning: ${text}\n`);
  }

  get changed(): boolean {
    return this.steps.some((s) => CHANGES.has(s.status));
  }

  finish(command: string, prefix: string, summary: string): void {
    if (this.json) {
      const out = { command, prefix: prefix || null, changed: this.changed, steps: this.steps, notes: this.notes, warnings: this.warnings, summary };
      process.stdout.write(JSON.stringify(out) + '\n');
    } else {
      process.stdout.write(`${summary}\n`);
    }
  }
}

interface CommonOptions {
  prefix?: string;
  json?: boolean;
}

/**
 * Commander accepts the agent's own options around a subcommand (`nrdot-plus install --once`) and
 * would silently ignore them here.
 */
function rejectAgentOptions(cmd: Command): void {
  const agent = cmd.parent;
  if (!agent) return;
  const given = agent.options.filter((o) => agent.getOptionValueSource(o.attributeName()) === 'cli').map((o) => o.long ?? o.flags);
  if (given.length) throw new UsageError(`${given.join(', ')}: an option of the agent, not of ${cmd.name()}`);
}

function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) throw new UserError(`must run as root (sudo nrdot-plus ${command})`);
}

/** The prefix as an absolute path ('' for the running system). */
function resolvePrefix(flag: string | undefined): string {
  if (flag === undefined) return '';
  const dir = resolve(flag);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    throw new UserError(`--prefix ${flag}: no such directory`);
  }
  if (!st.isDirectory()) throw new UserError(`--prefix ${flag}: not a directory`);
  return dir === '/' ? '' : dir;
}

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8);
}

/** Node's own: undefined for a path that does not exist; any other error is thrown. */
function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** chown -R without following symbolic links (as systemd does for StateDirectory=). */
function chownTree(path: string, uid: number, gid: number): void {
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
  lchownSync(path, uid, gid);
}

interface Owner {
  uid: number;
  gid: number;
  names: string;
  /** A wrong owner is corrected for everything inside too (the service's own directories). */
  recursive: boolean;
}

function ensureDir(report: Report, path: string, mode: number, owner: Owner): void {
  const st = lstatOrNull(path);
  if (!st) {
    mkdirSync(path, { recursive: true });
    chmodSync(path, mode);
    chownSync(path, owner.uid, owner.gid);
    report.step('created', 'directory', path, `${octal(mode)} ${owner.names}`);
    return;
  }
  if (!st.isDirectory()) throw new UserError(`${path} exists and is not a directory; move it away and run install again`);
  const fixes: string[] = [];
  if ((st.mode & 0o7777) !== mode) {
    chmodSync(path, mode);
    fixes.push(`mode ${octal(st.mode)} -> ${octal(mode)}`);
  }
  if (st.uid !== owner.uid || st.gid !== owner.gid) {
    // Files the agent wrote when it ran as root must become the service user's too.
    if (owner.recursive) chownTree(path, owner.uid, owner.gid);
    else chownSync(path, owner.uid, owner.gid);
    fixes.push(`owner ${st.uid}:${st.gid} -> ${owner.names}${owner.recursive ? ', recursively' : ''}`);
  }
  report.step(fixes.length ? 'updated' : 'unchanged', 'directory', path, fixes.length ? fixes.join(', ') : `${octal(mode)} ${owner.names}`);
}

/** The commented default configuration, only where there is none: a user's file is never replaced. */
function ensureConfig(report: Report, path: string, account: Account): void {
  if (lstatOrNull(path)) {
    report.step('kept', 'config', path, 'existing file, not overwritten');
    return;
  }
  writeFileSync(path, readFileSync(PACKAGING_DIR + 'optimization.yaml'), { mode: 0o640, flag: 'wx' });
  chmodSync(path, 0o640);
  chownSync(path, 0, account.gid); // readable by the agent, not by everyone: it may hold a license key
  report.step('created', 'config', path, `0640 root:${SERVICE_USER}, the shipped defaults, commented`);
}

/** Writes the unit if its content differs; returns whether it changed. */
function ensureUnit(report: Report, l: Layout, text: string): boolean {
  const st = lstatOrNull(l.unit);
  const old = st?.isFile() ? readFileSync(l.unit, 'utf8') : null;
  const detail = `ExecStart=${execStart(text) ?? ''}`;
  if (old === text && st && (st.mode & 0o7777) === 0o644) {
    report.step('unchanged', 'unit', l.unit, detail);
    return false;
  }
  mkdirSync(l.unitDir, { recursive: true });
  const tmp = `${l.unit}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, l.unit);
  report.step(st ? 'updated' : 'created', 'unit', l.unit, detail);
  return true;
}

/** The unit's command, run once as the service runs it (its user, its two capabilities): a message if it fails. */
function probeAgent(account: Account, node: string, agent: string): string | null {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--clear-groups', `--inh-caps=-all,${CAPS}`, `--ambient-caps=${CAPS}`, '--no-new-privs', node, agent, '--version'],
    { cwd: '/', encoding: 'utf8', timeout: 60_000, env: { PATH: systemPath() } },
  );
  if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? null : r.error.message; // no setpriv: nothing to check with
  if (r.status === 0) return null;
  const why = (r.stderr || r.stdout).trim().split('\n').slice(0, 3).join('; ');
  return `the service's command (${node} ${agent}) fails as ${SERVICE_USER} (uid ${account.uid}): ${why}; the service will not start. Install NRDOT-Plus where the ${SERVICE_USER} user can read it (e.g. under /opt) and run install again`;
}

function shellArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function install(opts: CommonOptions & { start: boolean }): void {
  requireRoot('install');
  const prefix = resolvePrefix(opts.prefix);
  const l = layout(prefix);
  const report = new Report(Boolean(opts.json));
  const accounts = new AccountFiles(prefix);

  const { account, created } = accounts.ensure(SYSTEM_DATA_DIR);
  report.step(created.includes('group') ? 'created' : 'unchanged', 'group', SERVICE_USER, `gid ${account.gid} in ${accounts.group}`);
  report.step(created.includes('user') ? 'created' : 'unchanged', 'user', SERVICE_USER, `uid ${account.uid} in ${accounts.passwd}, no login, home ${SYSTEM_DATA_DIR}`);

  const root: Owner = { uid: 0, gid: 0, names: 'root:root', recursive: false };
  const service: Owner = { uid: account.uid, gid: account.gid, names: `${SERVICE_USER}:${SERVICE_USER}`, recursive: true };
  ensureDir(report, l.configDir, 0o755, root);
  ensureDir(report, l.dataDir, 0o750, service);
  ensureDir(report, l.logDir, 0o750, service);
  ensureConfig(report, l.config, account);

  const node = process.execPath;
  const unitChanged = ensureUnit(report, l, renderUnit(node, AGENT_BIN));
  const problem = probeAgent(account, node, AGENT_BIN);
  if (problem) report.warn(problem);

  const startIt = `systemctl daemon-reload && systemctl enable --now ${UNIT_NAME}`;
  if (prefix) {
    report.note(`--prefix: nothing started; on the system these files are for, run: ${startIt}`);
  } else if (!systemdRunning()) {
    const env = [`NRDOT_CONFIG=${SYSTEM_CONFIG}`, `NRDOT_DATA_DIR=${SYSTEM_DATA_DIR}`, `NRDOT_LOG_DIR=${SYSTEM_LOG_DIR}`];
    const manual = ['setpriv', `--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--clear-groups', `--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`, '--no-new-privs', 'env', ...env, node, AGENT_BIN];
    report.note(`systemd is not running here (no /run/systemd/system), so the service was not started. Under systemd: ${startIt}`);
    report.note(`Without systemd, run the agent as the service would (its user, its two capabilities):\n  ${manual.map(shellArg).join(' ')}`);
  } else {
    if (unitChanged) {
      systemctl(['daemon-reload']);
      report.step('ran', 'systemctl', 'daemon-reload');
    }
    if (!opts.start) {
      report.note(`not started (--no-start); to start it now and at every boot: systemctl enable --now ${UNIT_NAME}`);
    } else {
      const enabled = systemctl(['is-enabled', '--quiet', UNIT_NAME], false) === 0;
      const active = systemctl(['is-active', '--quiet', UNIT_NAME], false) === 0;
      if (!enabled || !active) {
        systemctl(['enable', '--now', UNIT_NAME]);
        report.step('ran', 'systemctl', `enable --now ${UNIT_NAME}`);
      } else if (unitChanged) {
        systemctl(['restart', UNIT_NAME]);
        report.step('ran', 'systemctl', `restart ${UNIT_NAME}`, 'the unit changed');
      } else {
        report.step('unchanged', 'service', UNIT_NAME, 'enabled and running');
      }
      report.note(`status: systemctl status ${UNIT_NAME}; logs: journalctl -u ${UNIT_NAME}`);
    }
  }
  const where = prefix ? ` under ${prefix}` : '';
  report.finish('install', prefix, report.changed ? `nrdot-plus installed${where}` : `nothing to do: nrdot-plus is already installed${where}`);
}

function uninstall(opts: CommonOptions & { purge?: boolean }): void {
  requireRoot('uninstall');
  const prefix = resolvePrefix(opts.prefix);
  const l = layout(prefix);
  const report = new Report(Boolean(opts.json));
  const accounts = new AccountFiles(prefix);
  const systemd = !prefix && systemdRunning();

  if (systemd) {
    const enabled = systemctl(['is-enabled', '--quiet', UNIT_NAME], false) === 0;
    const active = systemctl(['is-active', '--quiet', UNIT_NAME], false) === 0;
    if (enabled || active) {
      systemctl(['disable', '--now', UNIT_NAME]);
      report.step('ran', 'systemctl', `disable --now ${UNIT_NAME}`);
    }
  }
  // Links of an enable made without a running systemd (systemctl --root, image builds).
  for (const entry of lstatOrNull(l.unitDir)?.isDirectory() ? readdirSync(l.unitDir) : []) {
    const link = join(l.unitDir, entry, UNIT_NAME);
    if (entry.endsWith('.wants') && lstatOrNull(link)?.isSymbolicLink()) {
      unlinkSync(link);
      report.step('removed', 'unit', link);
    }
  }
  if (lstatOrNull(l.unit)) {
    unlinkSync(l.unit);
    report.step('removed', 'unit', l.unit);
    if (systemd) {
      systemctl(['daemon-reload']);
      systemctl(['reset-failed', UNIT_NAME], false);
      report.step('ran', 'systemctl', 'daemon-reload');
    }
  } else {
    report.step('absent', 'unit', l.unit);
  }

  for (const [path, kind] of [
    [l.configDir, 'config'],
    [l.dataDir, 'directory'],
    [l.logDir, 'directory'],
  ] as const) {
    const exists = lstatOrNull(path) !== null;
    if (!exists) report.step('absent', kind, path);
    else if (opts.purge) {
      rmSync(path, { recursive: true, force: true });
      report.step('removed', kind, path, 'with everything in it');
    } else report.step('kept', kind, path, '--purge removes it');
  }
  if (opts.purge) {
    const removed = accounts.remove();
    report.step(removed.includes('user') ? 'removed' : 'absent', 'user', SERVICE_USER, accounts.passwd);
    report.step(removed.includes('group') ? 'removed' : 'absent', 'group', SERVICE_USER, accounts.group);
  } else if (accounts.hasUser()) {
    report.step('kept', 'user', SERVICE_USER, '--purge removes it');
  }
  const where = prefix ? ` under ${prefix}` : '';
  const kept = opts.purge ? '' : '; configuration, data, logs and the user are kept (--purge removes them)';
  report.finish('uninstall', prefix, report.changed ? `nrdot-plus uninstalled${where}${kept}` : `nothing to do: the service is not installed${where}${kept}`);
}

export function installCommand(): Command {
  return configure(new Command('install'))
    .description('install the agent as a systemd service: user, directories, configuration, unit; then start it (needs root)')
    .option('--prefix <dir>', 'put every file under DIR instead of / (packaging, tests); the user goes into DIR/etc/passwd')
    .option('--no-start', 'do not enable or start the service')
    .option('--json', 'print what was done as JSON')
    .action((opts: CommonOptions & { start: boolean }, cmd: Command) => {
      rejectAgentOptions(cmd);
      install(opts);
    });
}

export function uninstallCommand(): Command {
  return configure(new Command('uninstall'))
    .description('stop and remove the systemd service; keeps configuration, data and logs unless --purge (needs root)')
    .option('--prefix <dir>', 'the DIR given to install --prefix')
    .option('--purge', 'also remove /etc/nrdot-plus, /var/lib/nrdot-plus, /var/log/nrdot-plus and the nrdot-plus user')
    .option('--json', 'print what was done as JSON')
    .action((opts: CommonOptions & { purge?: boolean }, cmd: Command) => {
      rejectAgentOptions(cmd);
      uninstall(opts);
    });
}
