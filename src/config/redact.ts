/**
 * Secrets never leave through `config show`, the API, an archive or a log: every header value (any
 * header may carry a credential: api-key, x-honeycomb-team, ...), webhook secrets, the path and query
 * of webhook URLs (a Slack or Teams URL is itself the credential) and credentials in endpoint URLs
 * become "***".
 *
 * One walk (`eachSecret`) knows where the configuration holds secrets; `redactConfig` masks them in
 * a copy, and `configSecrets` lists their values, for an archive to search every other file for.
 * `envSecrets` lists the ones the environment gives the exporter (src/export/otlp-settings.ts and
 * transport.ts read these variables).
 */
import type { Config } from './schema.js';

const MASK = '***';

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
}

export function redactConfig(config: Config): Config {
  const out = structuredClone(config);
  eachSecret(out, (value, kind) => (kind === 'value' ? MASK : redactUrl(value, kind === 'url-path')));
  return out;
}

/** The URL without user and password; with `pathToo`, only its scheme and host. */
function redactUrl(value: string, pathToo: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return MASK; // not a URL: it may be anything
  }
  if (pathToo) return url.pathname === '/' && !url.search ? `${url.origin}/` : `${url.origin}/${MASK}`;
  if (url.username || url.password) {
    url.username = MASK;
    url.password = '';
  }
  if (url.search) url.search = `?${MASK}`;
  return url.toString();
}

/**
 * Every secret value in `config`, as it may appear in a text: the ones redactConfig masks, whole,
 * and the secret parts of URLs on their own (see secretsOfUrl). Unordered, possibly repeated.
 */
export function configSecrets(config: Config): string[] {
  const found: string[] = [];
  eachSecret(structuredClone(config), (value, kind) => {
    if (kind === 'value') found.push(value);
    else found.push(...secretsOfUrl(value, kind === 'url-path'));
    return value;
  });
  return found;
}

/**
 * The environment variables that may carry a secret, and what they hold: the license key, header
 * lists (`key=value,...`, values percent-encoded), endpoint and proxy URLs (credentials, query).
 */
export const SECRET_ENV: Readonly<Record<string, 'value' | 'headers' | 'url'>> = {
  NEW_RELIC_LICENSE_KEY: 'value',
  OTEL_EXPORTER_OTLP_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'headers',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'url',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'url',
  HTTPS_PROXY: 'url',
  https_proxy: 'url',
  HTTP_PROXY: 'url',
  http_proxy: 'url',
};

/**
 * Every secret value the environment gives (SECRET_ENV). Lenient where the exporter is strict: a
 * malformed header list still yields its values, raw and decoded, since redaction must never miss
 * one because the agent would have refused it. Unordered, possibly repeated.
 */
export function envSecrets(env: Record<string, string | undefined>): string[] {
  const found: string[] = [];
  for (const [name, kind] of Object.entries(SECRET_ENV)) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (kind === 'value') found.push(text);
    else if (kind === 'url') found.push(...secretsOfUrl(text, false));
    else {
      for (const entry of text.split(',')) {
        const eq = entry.indexOf('=');
        if (eq < 0) continue;
        const raw = entry.slice(eq + 1).trim();
        found.push(raw);
        try {
          found.push(decodeURIComponent(raw));
        } catch {
          // not valid percent-encoding: the raw value is what may appear
        }
      }
    }
  }
  return found;
}

/**
 * The secret parts of a URL: the password (or the user when there is no password: a token given
 * as the user), the query and each of its values; with `pathToo` (a webhook), also the whole URL
 * and its path with the query. Text that is not a URL is secret as a whole.
 */
function secretsOfUrl(value: string, pathToo: boolean): string[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [value];
  }
  const found: string[] = [];
  const user = url.password || url.username;
  if (user) found.push(user, safeDecode(user));
  if (url.search) {
    found.push(url.search.slice(1));
    for (const v of url.searchParams.values()) found.push(v);
  }
  if (pathToo && (url.pathname !== '/' || url.search)) found.push(value, url.href, url.pathname + url.search);
  return found;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
