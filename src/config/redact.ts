/** Secrets never leave through `config show`, an archive or a log: their values become "***". */
import type { Config } from './schema.js';

const SECRET_HEADER = /(api-?key|authorization|token|secret|license)/i;

export function redactConfig(config: Config): Config {
  const out = structuredClone(config);
  for (const hook of Object.values(out.webhooks)) if (hook.secret) hook.secret = '***';
  const headers = out.exporters.otlp.headers;
  if (headers) for (const name of Object.keys(headers)) if (SECRET_HEADER.test(name)) headers[name] = '***';
  return out;
}
