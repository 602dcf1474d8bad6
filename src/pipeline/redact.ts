/**
 * Command-line redaction (SPEC, "Profiles"): values of arguments and environment-style assignments
 * whose names suggest secrets become `***`, as do mysql's `-p<value>`, the password of a URL and the
 * credentials of an `Authorization` header; extra patterns are configurable. Applied before anything
 * leaves the pipeline. Works token by token, so that a secret name must be a word of the flag or
 * variable name (`--db-password`, `API_KEY`, `-Dapi.key`), not any substring (`--keyboard`, `author`).
 */

/** Programs whose short option takes a password glued or apart (`-psecret`, `-a secret`). */
const SHORT_PASSWORD: Array<[RegExp, string]> = [
  [/^(mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)$/, '-p'],
  [/^redis-cli$/, '-a'],
  [/^sshpass$/, '-p'],
];

const URL_PASSWORD = /(\b[a-z][\w+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;
const AUTH_HEADER = /^(['"]?)(authorization|proxy-authorization)(:)$/i;

export class Redactor {
  private readonly secretWord: RegExp;
  private readonly extra: RegExp[];

  constructor(secretNames: string[], patterns: string[] = []) {
    const names = secretNames.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    // A name is split into words on - _ . and case changes do not matter: db-password, API_KEY.
    this.secretWord = new RegExp(`(?:^|[-_.])(?:${names})s?(?:$|[-_.])`, 'i');
    this.extra = patterns.map((p) => new RegExp(p, 'g'));
  }

  private isSecretName(name: string): boolean {
    return this.secretWord.test(name.replace(/^-+/, ''));
  }

  redact(cmdline: string): string {
    if (cmdline === '') return cmdline;
    const tokens = cmdline.split(' ');
    const program = (tokens[0] ?? '').slice((tokens[0] ?? '').lastIndexOf('/') + 1);
    const short = SHORT_PASSWORD.find(([re]) => re.test(program))?.[1];
    for (let i = 0; i < tokens.length; i++) {
      const tok = tokens[i]!;
      if (tok === '') continue;
      // -psecret (mysql), -a secret (redis-cli), -p secret (sshpass)
      if (short !== undefined && tok.startsWith(short) && tok !== short && !tok.startsWith('--')) {
        tokens[i] = `${short}***`;
        continue;
      }
      if (short !== undefined && tok === short && i + 1 < tokens.length) {
        tokens[++i] = '***';
        continue;
      }
      // Authorization: Bearer abc / Authorization: abc
      if (AUTH_HEADER.test(tok) && i + 1 < tokens.length) {
        const scheme = tokens[i + 1]!;
        if (/^(bearer|basic|digest|token|negotiate)$/i.test(scheme) && i + 2 < tokens.length) i++;
        tokens[i + 1] = '***';
        i++;
        continue;
      }
      // NAME=value, --name=value, -Dname=value, --header=X-Api-Key:value, --name:value
      const eq = tok.search(/[=:]/);
      if (eq > 0) {
        const name = tok.slice(0, eq);
        const value = tok.slice(eq + 1);
        if (this.isSecretName(name.replace(/^-D/, ''))) {
          tokens[i] = `${tok.slice(0, eq + 1)}***`;
          continue;
        }
        // a header given as a value: --header=X-Api-Key:abc, -HAuthorization:abc
        const inner = value.search(/:/);
        if (inner > 0 && (this.isSecretName(value.slice(0, inner)) || /^authorization$/i.test(value.slice(0, inner)))) {
          tokens[i] = `${tok.slice(0, eq + 1 + inner + 1)}***`;
          continue;
        }
      }
      // --password value, -token value
      if (tok.startsWith('-') && this.isSecretName(tok) && i + 1 < tokens.length && tokens[i + 1] !== '') {
        tokens[++i] = '***';
      }
    }
    let out = tokens.join(' ');
    out = out.replace(URL_PASSWORD, '$1***@');
    for (const re of this.extra) out = out.replace(re, '***');
    return out;
  }
}
