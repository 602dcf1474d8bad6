// The seam between the OpAMP transport (src/hub/opamp) and the fleet logic (src/hub/fleet),
// as opamp-go's server has it: the transport calls these handlers and the logic never knows
// whether an agent polls over plain HTTP or holds a WebSocket.
import type { AgentToServer, ServerToAgent } from '../../fleet/codec.js';
import type { Transport } from './metrics.js';

export interface OpampConnection {
  /** Unique per connection (per request on plain HTTP) in this process. */
  readonly id: number;
  readonly transport: Transport;
  /** scheme://host:port the agent reached the hub at (for offers when no public URL is set). */
  readonly origin: string;
  readonly remoteAddress: string;
  /** WebSocket: sends a message outside a reply; false when closed. Plain HTTP: always false
   * (the agent gets what is pending at its next poll). */
  send(msg: ServerToAgent): boolean;
  /** WebSocket: closes it; plain HTTP: nothing. */
  close(): void;
}

export interface OpampHandlers {
  /** One AgentToServer in, its ServerToAgent reply out. Throw BadRequestError for a message
   * the agent must not retry; any other error is answered UNAVAILABLE. */
  onMessage(conn: OpampConnection, msg: AgentToServer): Promise<ServerToAgent>;
  /** A WebSocket closed (not called for plain HTTP requests). */
  onConnectionClose(conn: OpampConnection): void;
}

export class BadRequestError extends Error {
  override name = 'BadRequestError';
}
