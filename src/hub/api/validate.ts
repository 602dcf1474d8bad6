/**
 * A fleet configuration checked before it is stored: its YAML parses, it sets no key a hub may
 * not set (src/fleet/forbidden.ts), and merged over the agent's embedded defaults it validates
 * with the agent's own schema (so a fragment needs no `version:` line). Opaque ones (for other
 * OpAMP agents) are not read. Every failure is one 400 naming the field and the line.
 */
import { ConfigError, lineSuffix, parseConfig, parseYamlText, MAX_CONFIG_BYTES } from '../../config/load.js';
import { isPlainObject } from '../../config/merge.js';
import { forbiddenKeys } from '../../fleet/forbidden.js';
import { badRequest } from './errors.js';

/** Names become file names on the agents (`fleet/NN-NAME.yaml`). */
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkConfigName(name: string): void {
  if (!NAME.test(name)) throw badRequest(`name: "${name}" must be 1 to 63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit (it names the file on the agents)`);
}

/** The name fragments go by in messages, as the agents will store them. */
export const fragmentLabel = (name: string): string => `fleet config ${name}`;

/** `:LINE` of the key itself (a mapping value starts on the next line), else lineSuffix's answer. */
export function validateFragment(name: string, body: string, opaque: boolean, allowExporters: boolean): void {
  if (Buffer.byteLength(body, 'utf8') > MAX_CONFIG_BYTES) throw badRequest(`body: ${Math.ceil(Buffer.byteLength(body, 'utf8') / 1024)} KiB, larger than a configuration may be (${MAX_CONFIG_BYTES / 1024} KiB)`);
  if (opaque) return;
  const label = fragmentLabel(name);
  try {
    const { value, doc, lines } = parseYamlText(body, label);
    if (!isPlainObject(value)) throw badRequest(`${label}: the top level must be a mapping of settings (or use --opaque for a configuration of another kind of agent)`);
    const forbidden = forbiddenKeys(value, allowExporters);
    if (forbidden.length > 0) {
      const key = forbidden[0]!;
      const exporter = key.startsWith('exporters.');
      throw badRequest(
        `${label}${lineSuffix(doc, lines, key.split('.'))}: ${key}: a fleet configuration may not set this ` +
          (exporter ? '(where an agent sends its data and with which credentials stays local unless the hub allows exporters: NRDOT_HUB_ALLOW_EXPORTERS=true)' : '(the agent\'s link to the hub and its local API stay local)') +
          (forbidden.length > 1 ? `; also ${forbidden.slice(1).join(', ')}` : ''),
      );
    }
    parseConfig(body, label);
  } catch (err) {
    if (err instanceof ConfigError) throw badRequest(err.message);
    throw err;
  }
}
