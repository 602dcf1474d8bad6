/**
 * Command-line redaction (SPEC, "Profiles"): values of arguments and environment-style assignments
 * whose names suggest secrets become `***`, as do mysql's `-p<value>`, the password of a URL and the
 * credentials of an `Authorization` header; extra patterns are configurable. Applied before anything
 * leaves the pipeline. Works token by token, so that a secret name must be a word of the flag or
 * variable name (`--db-password`, `API_KEY`, `-Dapi.key`), not any substring (`--keyboard`, `author`).
 *
 * Command lines are any local user's to choose, so everything here takes time linear in their length:
 * the RegExps below are anchored or match a bounded length at each position (no nested or
 * overlapping quantifiers that could backtrack), URL credentials are found by a scan without a
 * RegExp, and the configured extra patterns are RE2 (src/config/pattern.ts).
 */
import { compilePattern, type Pattern } from '../config/pattern.js';

/** Programs whose short option takes a password glued or apart (`-psecret`, `-a secret`). */
const SHORT_PASSWORD: Array<[RegExp, string]> = [
  [/^(mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)$/, '-p'],
  [/^redis-cli$/, '-a'],
  [/^sshpass$/, '-p'],
];

const AUTH_HEADER = /^(['"]?)(authorization|proxy-authorization)(:)$/i;

export class Redactor {
  private readonly secretWord: RegExp;
  private readonly extra: Pattern[];

  constructor(secretNames: string[], patterns: string[] = []) {
    const names = secretNames.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    // A name is split into words on - _ . and case changes do not matter: db-password, API_KEY.
    this.secretWord = new RegExp(`(?:^|[-_.])(?:${names})s?(?:$|[-_.])`, 'i');
    this.extra = patterns.map(compilePattern);
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
    let out = redactUrlPasswords(tokens.join(' '));
    for (const re of this.extra) out = re.matcher(out).replaceAll('***');
    return out;
  }
}

const isWordCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isLetterCode = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
/** The characters of a URL scheme after its first letter (RFC 3986): letters, digits, + . - (and _). */
const isSchemeCode = (c: number): boolean => isWordCode(c) || c === 43 || c === 46 || c === 45;
/** JavaScript's \s for the ASCII range and the usual Unicode spaces. */
const isSpaceCode = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;

/**
 * The password of every `scheme://user:password@` becomes `***`: what the RegExp
 * `/(\b[a-z][\w+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi` did, whose scheme part made it quadratic on a
 * long run of scheme characters without `://` (`a.a.a.a…`: 288 ms for 32 KB, seconds for 128 KB).
 * Here each `://` is looked at once, with scans that never cover the same characters twice: linear.
 */
export function redactUrlPasswords(text: string): string {
  let out = '';
  let copied = 0; // text before this index is in `out`
  let noAtBefore = -1; // a password scan found no '@' before this index (it met a space or the end)
  for (let sep = text.indexOf('://'); sep >= 0; sep = text.indexOf('://', sep + 1)) {
    // A scheme ends at sep: a letter at a word boundary, then scheme characters, none before `copied`.
    let start = -1;
    for (let j = sep - 1; j >= copied && isSchemeCode(text.charCodeAt(j)); j--) {
      if (isLetterCode(text.charCodeAt(j)) && (j === 0 || !isWordCode(text.charCodeAt(j - 1)))) start = j;
    }
    if (start < 0) continue;
    // The user: one or more characters other than : / @ and spaces, then ':'.
    let colon = sep + 3;
    while (colon < text.length) {
      const c = text.charCodeAt(colon);
      if (c === 58 || c === 47 || c === 64 || isSpaceCode(c)) break;
      colon++;
    }
    if (colon === sep + 3 || text.charCodeAt(colon) !== 58) continue;
    // The password: one or more characters other than @ and spaces, then '@'.
    const from = colon + 1;
    if (from < noAtBefore) continue;
    let at = from;
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c === 64 || isSpaceCode(c)) break;
      at++;
    }
    if (at === from || text.charCodeAt(at) !== 64) {
      noAtBefore = at;
      continue;
    }
    out += `${text.slice(copied, from)}***@`;
    copied = at + 1;
    sep = at;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
