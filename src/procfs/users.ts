/**
 * uid -> user name through the system's user database: /etc/passwd first (read once), then
 * `getent passwd` (NSS: LDAP, SSSD, systemd-userdb) for uids it does not list. Every answer is
 * cached, a missing name too, so each uid costs at most one lookup while the agent runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UserResolverOptions {
  passwdPath?: string;
  /** Ask NSS through getent for uids missing from the passwd file (default true). */
  useGetent?: boolean;
}

export class UserResolver {
  private readonly names = new Map<number, string>();
  private loaded = false;
  private readonly passwdPath: string;
  private readonly useGetent: boolean;

  constructor(options: UserResolverOptions = {}) {
    this.passwdPath = options.passwdPath ?? '/etc/passwd';
    this.useGetent = options.useGetent ?? true;
  }

  /** The user name for uid, or the uid as a decimal string when the system has no name for it. */
  name(uid: number): string {
    const known = this.names.get(uid);
    if (known !== undefined) return known;
    if (!this.loaded) {
      this.loaded = true;
      this.loadPasswd();
      const fromFile = this.names.get(uid);
      if (fromFile !== undefined) return fromFile;
    }
    const name = this.lookup(uid) ?? String(uid);
    this.names.set(uid, name);
    return name;
  }

  private loadPasswd(): void {
    let text: string;
    try {
      text = readFileSync(this.passwdPath, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      const fields = line.split(':');
      if (fields.length < 3 || fields[0] === '' || line.startsWith('#')) continue;
      const uid = Number(fields[2]);
      // The first entry for a uid wins, as getpwuid does.
      if (Number.isInteger(uid) && !this.names.has(uid)) this.names.set(uid, fields[0]!);
    }
  }

  private lookup(uid: number): string | undefined {
    if (!this.useGetent) return undefined;
    try {
      const out = execFileSync('getent', ['passwd', String(uid)], {
        encoding: 'utf8',
        timeout: 2000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const name = out.split(':')[0];
      return name ? name : undefined;
    } catch {
      return undefined; // exit 2: no such uid; or no getent at all
    }
  }
}
