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
  private useGetent: boolean;

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
    const found = this.lookup(uid);
    // A definite "no such user" is cached; a failed or slow lookup is asked again next time.
    if (found !== null) this.names.set(uid, found ?? String(uid));
    return found ?? String(uid);
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

  /** The name from NSS; undefined when NSS has no such user; null when the lookup itself failed. */
  private lookup(uid: number): string | undefined | null {
    if (!this.useGetent) return undefined;
    try {
      const out = execFileSync('getent', ['passwd', String(uid)], {
        encoding: 'utf8',
        timeout: 1000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const name = out.split(':')[0];
      return name ? name : undefined;
    } catch (err) {
      const e = err as { status?: number | null; code?: string };
      if (e.code === 'ENOENT') {
        this.useGetent = false; // no getent on this system: /etc/passwd is all there is
        return undefined;
      }
      // getent exits 2 for "not found"; a timeout or a signal is not an answer.
      return e.status === 2 ? undefined : null;
    }
  }
}
