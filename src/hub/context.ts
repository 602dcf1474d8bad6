// What every part of the hub is handed: its settings, its storage, its log and its clock.
// The transport (src/hub/opamp), the fleet logic (src/hub/fleet) and the API (src/hub/api)
// meet only here, as opamp-go's server hides the transport behind callbacks.
import type { Logger } from 'pino';
import type { HubSettings } from './settings.js';
import type { HubStore } from './store/types.js';

export interface HubContext {
  settings: HubSettings;
  store: HubStore;
  log: Logger;
  /** Unique per process (hostname:pid:start); names the replica holding a WebSocket. */
  replicaId: string;
  now(): number;
}
