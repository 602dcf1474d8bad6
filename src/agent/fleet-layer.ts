/**
 * The fleet layer: what a hub's remote config (an AgentConfigMap) means to this agent. Its entries
 * `fleet/NN-NAME.yaml` are configuration fragments, merged in the order of NN (then name) between the
 * local file and the environment; `nrdot-fleet.json` holds the directives (the fleet pin, the control
 * loop switch). Other entries are not ours and are ignored. A fragment that sets a key a hub may not
 * set (src/fleet/forbidden.ts) fails the whole layer, naming the entry and the key.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigAt, parseLayer, type Config, type ConfigFragment, type ConfigLocation, type LoadedConfig } from '../config/index.js';
import type { TlsOptions } from '../fleet/client/types.js';
import { DIRECTIVES_FILE, DirectivesSchema, FRAGMENT_PREFIX, NO_DIRECTIVES, type Directives } from '../fleet/directives.js';
import { forbiddenKeys } from '../fleet/forbidden.js';
import type { StateStore } from '../store/index.js';
import type { Logger } from './log.js';

const FRAGMENT = /^fleet\/(\d+)-([^/]+)\.ya?ml$/;
/** The name of the layer the control loop switch takes effect through (after the fragments, under the environment). */
export const DIRECTIVES_LAYER = `${DIRECTIVES_FILE} (control_loop)`;

export interface FleetLayer {
  fragments: ConfigFragment[];
  directives: Directives;
  /** Entries that are neither fragments nor directives (another agent's files, say). */
  ignored: string[];
}

export const NO_FLEET_LAYER: FleetLayer = { fragments: [], directives: NO_DIRECTIVES, ignored: [] };

/** Parses a config map (entry name -> text); a ConfigError naming the entry when it cannot be ours. */
export function parseFleetLayer(files: Record<string, string>): FleetLayer {
  const fragments: Array<ConfigFragment & { order: number }> = [];
  let directives: Directives = NO_DIRECTIVES;
  const ignored: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const m = FRAGMENT.exec(name);
    if (m) {
      const layer = parseLayer({ name, text }); // YAML errors name the entry
      const forbidden = forbiddenKeys(layer.value);
      if (forbidden.length > 0) throw new ConfigError(`${name}: ${forbidden.join(', ')}: a fleet configuration may not set ${forbidden.length > 1 ? 'these keys' : 'this key'} (only the local file or the environment can)`);
      fragments.push({ name, text, order: Number(m[1]) });
    } else if (name === DIRECTIVES_FILE) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ConfigError(`${name}: not JSON: ${(err as Error).message}`);
      }
      const parsed = DirectivesSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ConfigError(`${name}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
      }
      directives = parsed.data;
    } else if (name.startsWith(FRAGMENT_PREFIX)) {
      throw new ConfigError(`${name}: a fleet fragment is named fleet/NN-NAME.yaml`);
    } else ignored.push(name);
  }
  fragments.sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fragments: fragments.map(({ name, text }) => ({ name, text })), directives, ignored };
}

/** The layers the configuration loads with: the fragments, then the control loop switch of the directives. */
export function fleetFragments(layer: FleetLayer): ConfigFragment[] {
  const loop = layer.directives.control_loop;
  if (loop === null) return layer.fragments;
  return [...layer.fragments, { name: DIRECTIVES_LAYER, text: `control_loop:\n  enabled: ${loop === 'on'}\n` }];
}

export type RemoteStatusName = 'UNSET' | 'APPLIED' | 'APPLYING' | 'FAILED';

export interface RemoteStatus {
  hash: Uint8Array;
  status: RemoteStatusName;
  message: string;
}

/** The fleet layer in force at start, and what to report about it. */
export interface StartLayer {
  loaded: LoadedConfig | null;
  layer: FleetLayer;
  status: RemoteStatus | null;
}

/**
 * At start: the last good fleet layer over the configuration just loaded (when a hub is configured),
 * so that it is in force before the hub answers; dropped from the store when there is no endpoint.
 * A layer that no longer validates with the local file is left out (and reported FAILED).
 */
export function openFleetLayer(store: StateStore, config: Config, location: ConfigLocation, log: Logger): StartLayer {
  const kept = store.fleet.layer();
  if (config.fleet.endpoint === '') {
    if (kept) {
      store.fleet.clearLayer();
      log.info({}, 'fleet.endpoint is empty: the fleet layer the hub had sent is dropped');
    }
    return { loaded: null, layer: NO_FLEET_LAYER, status: null };
  }
  if (!kept) return { loaded: null, layer: NO_FLEET_LAYER, status: null };
  try {
    const layer = parseFleetLayer(kept.files);
    const loaded = loadConfigAt(location, process.env, fleetFragments(layer));
    log.info({ fleet_fragments: layer.fragments.map((f) => f.name), fleet_pin: layer.directives.pin?.profile ?? null }, `the last fleet configuration from the hub is in force (${layer.fragments.length} fragments)`);
    return { loaded, layer, status: { hash: kept.hash, status: 'APPLIED', message: '' } };
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : (err as Error).message;
    log.error({}, `the last fleet configuration from the hub is not applied: ${message}`);
    return { loaded: null, layer: NO_FLEET_LAYER, status: { hash: kept.hash, status: 'FAILED', message } };
  }
}

/** The PEM files of fleet.certificate / client_certificate / client_key, read once at start. */
export function fleetTls(config: Config): TlsOptions {
  const read = (path: string, field: string): string | undefined => {
    if (path === '') return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`fleet.${field} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  };
  return { ca: read(config.fleet.certificate, 'certificate'), cert: read(config.fleet.client_certificate, 'client_certificate'), key: read(config.fleet.client_key, 'client_key') };
}
