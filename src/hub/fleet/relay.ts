// The hub's side of the request channel (src/fleet/requests.ts): pending requests go out one per
// ServerToAgent.custom_message; answers come back as AgentToServer.custom_message. The store
// holds the requests; this keeps the store out of the heartbeat path: an agent's requests are
// taken once after the hub starts and then only when a notification ('agent:<uid>') says the
// API queued one. It also tells the engine which agents someone is looking at (short heartbeat).
import type { Logger } from 'pino';
import { create, CustomMessageSchema, type CustomMessage } from '../../fleet/codec.js';
import {
  encodeRequestMessage,
  NRDOT_CAPABILITY,
  parseResponseMessage,
  REQUEST_MESSAGE_TYPE,
  RESPONSE_MESSAGE_TYPE,
} from '../../fleet/requests.js';
import type { AgentRequest, HubStore } from '../store/types.js';

/** How long after a request an agent keeps the short ("watch") heartbeat: a console refreshing
 * `top` every few seconds keeps it short; one look and it is back to normal a minute later. */
export const WATCH_MS = 60_000;

export class RequestRelay {
  private maybePending = new Set<string>();
  private checked = new Set<string>();
  private overflow = new Map<string, AgentRequest[]>();
  private watchUntil = new Map<string, number>();
  /** Requests pending in the store for any agent (refreshed by the sweep): a safety net for a
   * lost notification, so that while any is pending every agent's message looks. */
  private pendingAnywhere = 0;

  constructor(
    private readonly store: HubStore,
    private readonly log: Logger,
  ) {}

  /** The API queued something for this agent (or changed it): look at the store again. */
  notified(uid: string): void {
    this.maybePending.add(uid);
  }

  forget(uid: string): void {
    this.maybePending.delete(uid);
    this.checked.delete(uid);
    this.overflow.delete(uid);
    this.watchUntil.delete(uid);
  }

  setPendingAnywhere(n: number): void {
    this.pendingAnywhere = n;
  }

  /** Requests taken from the store and not yet sent (one goes per reply). */
  get backlog(): number {
    let n = 0;
    for (const q of this.overflow.values()) n += q.length;
    return n;
  }

  hasMore(uid: string): boolean {
    return (this.overflow.get(uid)?.length ?? 0) > 0;
  }

  watching(uid: string, nowMs: number): boolean {
    return this.maybePending.has(uid) || this.hasMore(uid) || (this.watchUntil.get(uid) ?? 0) > nowMs;
  }

  /** The next request for this agent as a custom message, or null. */
  async next(uid: string, nowMs: number): Promise<CustomMessage | null> {
    let queue = this.overflow.get(uid);
    if (!queue?.length && (!this.checked.has(uid) || this.maybePending.has(uid) || this.pendingAnywhere > 0)) {
      this.checked.add(uid);
      this.maybePending.delete(uid);
      const taken = await this.store.takeRequests(uid, nowMs);
      if (taken.length > 0) {
        queue = taken;
        this.overflow.set(uid, queue);
      }
    }
    const req = queue?.shift();
    if (queue && queue.length === 0) this.overflow.delete(uid);
    if (!req) return null;
    this.watchUntil.set(uid, nowMs + WATCH_MS);
    return create(CustomMessageSchema, {
      capability: NRDOT_CAPABILITY,
      type: REQUEST_MESSAGE_TYPE,
      data: encodeRequestMessage({ id: req.id, type: req.type, body: req.body }),
    });
  }

  /** An agent's custom message: a response is stored; anything else is not ours and ignored. */
  async received(uid: string, msg: CustomMessage, nowMs: number): Promise<void> {
    if (msg.capability !== NRDOT_CAPABILITY || msg.type !== RESPONSE_MESSAGE_TYPE) return;
    let response;
    try {
      response = parseResponseMessage(msg.data);
    } catch (err) {
      this.log.warn({ agent: uid, err: (err as Error).message }, 'ignored a malformed response on the request channel');
      return;
    }
    // An agent answers only what was asked of it.
    const req = await this.store.getRequest(response.id);
    if (!req || req.instanceUid !== uid) {
      this.log.warn({ agent: uid, request: response.id }, 'ignored a response to a request this agent was not sent');
      return;
    }
    const stored = response.ok ? { ok: true, result: response.result } : { ok: false, error: response.error };
    await this.store.answerRequest(response.id, stored, nowMs);
    this.watchUntil.set(uid, nowMs + WATCH_MS);
  }
}
