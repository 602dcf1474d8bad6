/**
 * The `nrdot-plus` system user and group, in the passwd and group files of the host or of a
 * `--prefix` (the shadow tools' own `--prefix`, so a staged tree gets them without touching the host).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from '../command/errors.js';

export const SERVICE_USER = 'nrdot-plus';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** An entry of a passwd (`name:x:uid:gid:...`) or group (`name:x:gid:...`) file, or null. */
function lookup(file: string, name: string): { id: number; gid: number } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { id: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/** Where the account files of a root (the host, or a `--prefix`) are. */
export class AccountFiles {
  readonly passwd: string;
  readonly group: string;

  constructor(readonly prefix: string) {
    this.passwd = join(prefix || '/', 'etc/passwd');
    this.group = join(prefix || '/', 'etc/group');
  }

  /** The user and its group's gid, or null when either is missing. */
  find(name = SERVICE_USER): Account | null {
    const user = lookup(this.passwd, name);
    const group = lookup(this.group, name);
    return user && group ? { name, uid: user.id, gid: group.id } : null;
  }

  hasUser(name = SERVICE_USER): boolean {
    return lookup(this.passwd, name) !== null;
  }

  hasGroup(name = SERVICE_USER): boolean {
    return lookup(this.group, name) !== null;
  }

  /** A prefix must bring its own account files: useradd --prefix cannot start from nothing. */
  requireFiles(): void {
    if (!this.prefix) return;
    for (const file of [this.passwd, this.group]) {
      if (!existsSync(file)) {
        throw new UserError(
          `--prefix ${this.prefix}: there is no ${file}; the ${SERVICE_USER} user is added to the prefix's own account files, ` +
            `so put them there first (e.g. cp /etc/passwd /etc/group /etc/shadow /etc/gshadow ${join(this.prefix, 'etc')}/)`,
        );
      }
    }
  }

  private args(): string[] {
    return this.prefix ? ['--prefix', this.prefix] : [];
  }

  /** Creates the system group and user where missing; returns the account and what was created. */
  ensure(homeDir: string): { account: Account; created: string[] } {
    this.requireFiles();
    const created: string[] = [];
    if (!this.hasGroup()) {
      runTool('groupadd', [...this.args(), '--system', SERVICE_USER]);
      created.push('group');
    }
    if (!this.hasUser()) {
      runTool('useradd', [
        ...this.args(),
        '--system',
        '--no-create-home',
        '--home-dir',
        homeDir,
        '--shell',
        nologinShell(),
        '--comment',
        'NRDOT-Plus agent',
        '--gid',
        SERVICE_USER,
        SERVICE_USER,
      ]);
      created.push('user');
    }
    const account = this.find();
    if (!account) throw new Error(`${SERVICE_USER} is missing from ${this.passwd} or ${this.group} right after creating it`);
    return { account, created };
  }

  /** Removes the user and its group; returns what it removed. */
  remove(): string[] {
    const removed: string[] = [];
    if (this.hasUser()) {
      runTool('userdel', [...this.args(), SERVICE_USER]);
      removed.push('user');
    }
    // userdel removes the user's group only when login.defs says so (USERGROUPS_ENAB), and a
    // prefix usually has no login.defs.
    if (this.hasGroup()) {
      runTool('groupdel', [...this.args(), SERVICE_USER]);
      removed.push('group');
    }
    return removed;
  }
}

function nologinShell(): string {
  return ['/usr/sbin/nologin', '/sbin/nologin'].find((p) => existsSync(p)) ?? '/bin/false';
}

/** The search path with the system directories added: sudo and cron do not always have them. */
export function systemPath(env = process.env): string {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(delimiter);
}

/** What to install when a tool is missing. */
const PACKAGE_OF: Record<string, string> = {
  useradd: 'the passwd package (shadow-utils)',
  userdel: 'the passwd package (shadow-utils)',
  groupadd: 'the passwd package (shadow-utils)',
  groupdel: 'the passwd package (shadow-utils)',
  setpriv: 'util-linux',
};

/** Runs a system tool, throwing a UserError with the tool's own message when it fails. */
export function runTool(tool: string, args: string[]): string {
  const r = spawnSync(tool, args, { encoding: 'utf8', env: { ...process.env, PATH: systemPath() } });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    const pkg = PACKAGE_OF[tool];
    throw new UserError(code === 'ENOENT' ? `${tool} not found${pkg ? `: install ${pkg}` : ''}` : `${tool}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().replace(/\s*\n\s*/g, '; ');
    throw new UserError(`${tool} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${why}`);
  }
  return r.stdout;
}
