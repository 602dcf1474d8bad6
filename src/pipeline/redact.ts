/**
 * Command-line redaction (SPEC, "Profiles"): values of arguments and environment-style assignments
 * whose names suggest secrets become `***`, as do mysql's `-p<value>` and the password of a URL;
 * extra patterns are configurable. Applied before anything leaves the pipeline.
 */

export class Redactor {
  private readonly assignment: RegExp;
  private readonly flag: RegExp;
  private readonly extra: RegExp[];

  constructor(secretNames: string[], patterns: string[] = []) {
    const names = secretNames.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    const name = `[\\w.-]*(?:${names})[\\w.-]*`;
    const value = `("[^"]*"|'[^']*'|\\S+)`;
    // PASSWORD=x, --db-password=x, -Dapi.key=x
    this.assignment = new RegExp(`((?:^|\\s)-{0,2}${name})=${value}`, 'gi');
    // --password x, -token x (a flag, so that ordinary words such as "author" are left alone)
    this.flag = new RegExp(`((?:^|\\s)-{1,2}${name})(\\s+)(?!-)${value}`, 'gi');
    this.extra = patterns.map((p) => new RegExp(p, 'g'));
  }

  redact(cmdline: string): string {
    if (cmdline === '') return cmdline;
    let out = cmdline.replace(this.assignment, '$1=***');
    out = out.replace(this.flag, '$1$2***');
    out = out.replace(/(^|\s)-p(?!\s|$)\S+/g, '$1-p***'); // mysql -psecret
    out = out.replace(/(\b[a-z][\w+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1***@'); // scheme://user:pass@host
    for (const re of this.extra) out = out.replace(re, '***');
    return out;
  }
}
