// Keys a fleet configuration may not set: the agent's link to the hub, its local API, and
// (unless the hub is configured to allow exporters) where its data goes and with which
// credentials. The hub refuses them when a config is applied; the agent refuses them again.
import { isPlainObject, type Plain } from '../config/merge.js';

const ALWAYS = ['fleet', 'server'];
const EXPORTER_KEYS = [
  'exporters.otlp.endpoint',
  'exporters.otlp.metrics_endpoint',
  'exporters.otlp.headers',
  'exporters.otlp.certificate',
  'exporters.otlp.client_certificate',
  'exporters.otlp.client_key',
  'exporters.file.path',
];

/** The forbidden keys a fragment sets, as dotted paths, in a stable order. */
export function forbiddenKeys(fragment: unknown, allowExporters = false): string[] {
  if (!isPlainObject(fragment)) return [];
  const found: string[] = [];
  for (const key of ALWAYS) if (key in fragment) found.push(key);
  if (!allowExporters) {
    for (const path of EXPORTER_KEYS) {
      let node: unknown = fragment;
      for (const part of path.split('.')) node = isPlainObject(node) ? (node as Plain)[part] : undefined;
      if (node !== undefined) found.push(path);
    }
  }
  return found;
}
