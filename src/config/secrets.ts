/**
 * The secrets of the agent's own configuration and environment, and the one redaction that every
 * output uses: the log (every line, src/agent/log.ts), error messages of the exporter and the
 * webhooks, the local API's answers (status, config), the rollback archive. Nothing of them ever
 * leaves; what is hidden shows as "***".
 *
 * - `redactConfig` masks the configuration itself, field by field (`config show`, the API's config,
 *   the archive's config.yaml): every header value (any header may carry a credential: api-key,
 *   x-honeycomb-team, ...), webhook secrets, the path and query of webhook URLs (a Slack or Teams URL
 *   is itself the credential), user info and query of endpoint URLs.
 * - `Redactor` scrubs any text: every secret value it knows (from `addConfig`: the license key,
 *   header values and the token after their scheme, webhook secrets and URLs, user info and queries
 *   of endpoint, proxy and webhook URLs; from `add`: the API token), in any case, JSON-escaped,
 *   URL-encoded and base64-encoded (`user:pass` too, as a Basic authorization carries it); and,
 *   knowing no value, the value of any `Authorization`/`api-key`-style header (and of every
 *   configured header), `Bearer` tokens, `Basic` credentials, and the user info and query of any URL.
 *   It compiles its secrets into one regular expression when they change, not per text.
 */
import type { Config } from './schema.js';

export const MASK = '***';
/**
 * Shorter secret values are not searched for in texts: replacing every "abc" or "42" would make a
 * log unreadable and hide nothing worth hiding (a secret of three characters is guessed, not
 * leaked). `redactConfig` masks them all the same, and the generic rules (headers, URLs) too.
 */
export const MIN_SECRET_LENGTH = 4;

type Env = Record<string, string | undefined>;

/**
 * What a secret-bearing field holds: a value that is secret as a whole, a URL whose path and query
 * are secret (a webhook's), or a URL whose user, password and query are (an endpoint's, a proxy's).
 */
type SecretKind = 'value' | 'url-path' | 'url-credentials';

/** Calls `fn` on every secret-bearing field of `config` that is set, and stores what it returns there. */
function eachSecret(config: Config, fn: (value: string, kind: SecretKind) => string): void {
  for (const hook of Object.values(config.webhooks)) {
    if (hook.secret) hook.secret = fn(hook.secret, 'value');
    if (hook.url) hook.url = fn(hook.url, 'url-path');
  }
  const otlp = config.exporters.otlp;
  if (otlp.headers) for (const [name, value] of Object.entries(otlp.headers)) otlp.headers[name] = fn(value, 'value');
  if (otlp.endpoint) otlp.endpoint = fn(otlp.endpoint, 'url-credentials');
  if (otlp.metrics_endpoint) otlp.metrics_endpoint = fn(otlp.metrics_endpoint, 'url-credentials');
  // The fleet hub's headers carry the enrollment secret (authorization: Bearer ...).
  const fleet = config.fleet;
  for (const [name, value] of Object.entries(fleet.headers)) fleet.headers[name] = fn(value, 'value');
  if (fleet.endpoint) fleet.endpoint = fn(fleet.endpoint, 'url-credentials');
}

export function redactConfig(config: Config): Config {
  const out = structuredClone(config);
  eachSecret(out, (value, kind) => (kind === 'value' ? MASK : kind === 'url-path' ? redactWebhookUrl(value) : redactUrl(value)));
  return out;
}

/**
 * A URL as it may be shown: its user info and its query replaced by "***"
 * (`https://***@host/v1/metrics?***`). Text that is not a URL is "***" as a whole.
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MASK; // not a URL: it may be anything
  }
  if (url.username || url.password) {
    url.username = MASK;
    url.password = '';
  }
  if (url.search) url.search = `?${MASK}`;
  return url.toString();
}

/** A webhook URL as it may be shown: its scheme and host only. */
function redactWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MASK;
  }
  return url.pathname === '/' && !url.search ? `${url.origin}/` : `${url.origin}/${MASK}`;
}

/**
 * The environment variables that may carry a secret, and what they hold: the license key, header
 * lists (`key=value,...`, values percent-encoded), endpoint and proxy URLs (credentials, query).
 */
const SECRET_ENV: Readonly<Record<string, 'value' | 'headers' | 'url'>> = {
  NEW_RELIC_LICENSE_KEY: 'value',
  OTEL_EXPORTER_OTLP_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'url',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'url',
  NRDOT_OPAMP_HEADERS: 'headers',
  NRDOT_OPAMP_ENDPOINT: 'url',
  HTTPS_PROXY: 'url',
  https_proxy: 'url',
  HTTP_PROXY: 'url',
  http_proxy: 'url',
};

/** What `addConfig` finds: secret values, and the names of the headers that carry them. */
interface Found {
  values: string[];
  headers: string[];
}

/**
 * Every secret value in `config` and `env`, and the header names configured. Lenient where the
 * exporter is strict: a malformed header list still yields its values, raw and decoded, since
 * redaction must never miss one because the agent would have refused it.
 */
function secretsOf(config: Config, env: Env): Found {
  const found: Found = { values: [], headers: [] };
  eachSecret(structuredClone(config), (value, kind) => {
    if (kind === 'value') headerValue(found, value);
    else secretsOfUrl(found, value, kind === 'url-path');
    return value;
  });
  found.headers.push(...Object.keys(config.exporters.otlp.headers ?? {}), ...Object.keys(config.fleet.headers));
  for (const [name, kind] of Object.entries(SECRET_ENV)) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (kind === 'value') found.values.push(text);
    else if (kind === 'url') secretsOfUrl(found, text, false);
    else {
      for (const entry of text.split(',')) {
        const eq = entry.indexOf('=');
        if (eq < 0) continue;
        found.headers.push(entry.slice(0, eq).trim());
        const raw = entry.slice(eq + 1).trim();
        found.values.push(raw);
        headerValue(found, safeDecode(raw));
      }
    }
  }
  return found;
}

/** A header value, and the credential after its scheme (`Bearer TOKEN`: TOKEN), which a backend may quote alone. */
function headerValue(found: Found, value: string): void {
  found.values.push(value);
  const scheme = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value.trim());
  if (scheme) found.values.push(scheme[1]!);
}

/**
 * The secret parts of a URL: user and password, raw and decoded, and `user:pass` (what a Basic
 * authorization carries), the query and each of its values; with `pathToo` (a webhook), also the
 * whole URL, its path with the query, and the parts of the path that look like tokens. Text that is
 * not a URL is secret as a whole.
 */
function secretsOfUrl(found: Found, value: string, pathToo: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    found.values.push(value);
    return;
  }
  if (url.username || url.password) {
    for (const [user, pass] of [[url.username, url.password], [safeDecode(url.username), safeDecode(url.password)]] as const) {
      found.values.push(`${user}:${pass}`);
      if (pass) found.values.push(pass);
      else found.values.push(user); // a token given as the user
    }
  }
  if (url.search) {
    found.values.push(url.search.slice(1));
    for (const v of url.searchParams.values()) found.values.push(v);
  }
  if (pathToo && (url.pathname !== '/' || url.search)) {
    found.values.push(value, url.href, url.pathname + url.search);
    // A token in the path (Slack's, Teams'), quoted alone: long parts, or with a digit; not "services".
    for (const part of url.pathname.split('/')) if (part.length >= 20 || (part.length >= 8 && /\d/.test(part))) found.values.push(part, safeDecode(part));
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Headers whose value is a credential wherever they are quoted (with the configured ones). */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'x-license-key', 'x-insert-key'];
/**
 * A URL: scheme, user info, host and path, query. Every pattern here runs in linear time on any text
 * (a log line may quote a hostile command line): the scheme is bounded, and no two repeated parts
 * can match the same characters.
 */
const URL_PATTERN = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#@"'<>\\]*@)?([^\s?#"'<>\\]*)(\?[^\s#"'<>\\]*)?/gi;
/** `Bearer TOKEN` and `Basic BASE64`. */
const SCHEME_PATTERN = /\b(bearer|basic)[ \t]+([A-Za-z0-9._~+/-]+=*)/gi;
/** A quoted header's value; the name alternation is filled in per configuration. */
const headerPattern = (names: readonly string[]): RegExp =>
  new RegExp(`(?<![\\w-])(${names.map(escape).join('|')})(\\\\?["']?[ \\t]*[:=][ \\t]*(?:\\\\?["'][ \\t]*)?)((?:bearer|basic|token|apikey|digest)[ \\t]+)?(?!(?:bearer|basic|token|apikey|digest)[ \\t])[^\\s"'\\\\,;&<>(){}\\[\\]]+`, 'gi');

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Each secret, and the forms it takes once written into JSON (escaped), a URL (percent-encoded) or
 * a header (base64, with and without padding); longest first, so that a secret containing another
 * is replaced whole.
 */
function formsOf(values: Iterable<string>): string[] {
  const all = new Set<string>();
  for (const s of values) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    const base64 = Buffer.from(s, 'utf8').toString('base64');
    for (const f of [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s), base64, base64.replace(/=+$/, '')]) all.add(f);
  }
  return [...all].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

export class Redactor {
  private readonly values = new Set<string>();
  private readonly headerNames = new Set(CREDENTIAL_HEADERS);
  private known: RegExp | null = null;
  private headers = headerPattern(CREDENTIAL_HEADERS);

  /** A redactor for `config` and `env`. */
  static of(config: Config, env: Env): Redactor {
    return new Redactor().addConfig(config, env);
  }

  /**
   * Adds the secrets of a configuration (a reload adds the new one's). Secrets are only ever added:
   * one dropped by a reload may still be quoted by an answer or a log line of this run.
   */
  addConfig(config: Config, env: Env): this {
    const found = secretsOf(config, env);
    for (const name of found.headers) this.headerNames.add(name.toLowerCase());
    this.headers = headerPattern([...this.headerNames].sort((a, b) => b.length - a.length));
    return this.add(found.values);
  }

  /** Adds secret values (the API token); recompiles only when one is new. */
  add(values: Iterable<string>): this {
    const before = this.values.size;
    for (const v of values) if (v.length >= MIN_SECRET_LENGTH) this.values.add(v);
    if (this.values.size !== before) {
      const forms = formsOf(this.values);
      this.known = forms.length > 0 ? new RegExp(forms.map(escape).join('|'), 'gi') : null;
    }
    return this;
  }

  /** `text` with every secret and credential in it replaced by "***". */
  scrub(text: string): string {
    let out = this.known ? text.replace(this.known, MASK) : text;
    out = out.replace(this.headers, `$1$2$3${MASK}`);
    out = out.replace(SCHEME_PATTERN, scheme);
    if (out.includes('://')) out = out.replace(URL_PATTERN, url);
    return out;
  }
}

/** `Bearer TOKEN` (a token of 8 characters or more) and `Basic BASE64` of `user:pass`, masked. */
function scheme(match: string, name: string, credential: string): string {
  if (name.toLowerCase() === 'bearer') return credential.length >= 8 ? `${name} ${MASK}` : match;
  return Buffer.from(credential, 'base64').toString('latin1').includes(':') ? `${name} ${MASK}` : match;
}

/** A URL with its user info and query masked; punctuation after it (`.`, `;`, `)`) stays. */
function url(_match: string, scheme: string, userinfo: string | undefined, rest: string, query: string | undefined): string {
  let shown = query ?? '';
  let end = shown.length;
  while (end > 1 && '.,;:!)]'.includes(shown[end - 1]!)) end--;
  if (end > 1) shown = `?${MASK}${shown.slice(end)}`;
  return `${scheme}${userinfo ? `${MASK}@` : ''}${rest}${shown}`;
}
