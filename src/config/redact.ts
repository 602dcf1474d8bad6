/**
 * Secrets never leave through `config show`, the API, an archive or a log: every header value (any
 * header may carry a credential: api-key, x-honeycomb-team, ...), webhook secrets, the path and query
 * of webhook URLs (a Slack or Teams URL is itself the credential) and credentials in endpoint URLs
 * become "***".
 */
import type { Config } from './schema.js';

const MASK = '***';

export function redactConfig(config: Config): Config {
  const out = structuredClone(config);
  for (const hook of Object.values(out.webhooks)) {
    if (hook.secret) hook.secret = MASK;
    if (hook.url) hook.url = redactUrl(hook.url, true);
  }
  const otlp = out.exporters.otlp;
  if (otlp.headers) for (const name of Object.keys(otlp.headers)) otlp.headers[name] = MASK;
  if (otlp.endpoint) otlp.endpoint = redactUrl(otlp.endpoint, false);
  if (otlp.metrics_endpoint) otlp.metrics_endpoint = redactUrl(otlp.metrics_endpoint, false);
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
