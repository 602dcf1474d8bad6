/**
 * The hub's request channel (src/fleet/requests.ts: custom capability io.nrdot.plus/v1): a
 * ServerToAgent custom message of type "request" with JSON {id, type: 'top' | 'explain' | 'journal',
 * body}; the agent answers with a custom message of type "response", JSON {id, ok, result | error},
 * in its next message (at once). The answers are the local API's (`top`, `explain PID`, `journal`),
 * bounded in size.
 */
import { ApiError } from '../api/errors.js';
import type { DaemonApi } from '../api/routes.js';
import { parseRequestMessage, type AgentResponseMessage } from '../fleet/requests.js';

/** Most processes a `top` answer lists, and journal entries a `journal` answer holds. */
const MAX_ROWS = 200;

const int = (v: unknown, fallback: number, max: number): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.min(max, Math.floor(v))) : fallback);

/** The id of a request that does not parse, if it has one to answer to. */
function looseId(data: Uint8Array): string | null {
  try {
    const json = JSON.parse(Buffer.from(data).toString('utf8')) as { id?: unknown };
    return typeof json?.id === 'string' && json.id.length > 0 && json.id.length <= 200 ? json.id : null;
  } catch {
    return null;
  }
}

/** The answer to one request, or null when the message has no id to answer to. */
export function answerRequest(daemon: Pick<DaemonApi, 'processes' | 'explain' | 'journal'>, data: Uint8Array): AgentResponseMessage | null {
  let req;
  try {
    req = parseRequestMessage(data);
  } catch (err) {
    // A type this agent does not serve, or a malformed body: said to the hub, when it gave an id.
    const id = looseId(data);
    return id === null ? null : { id, ok: false, error: `${(err as Error).message} (this agent serves top, explain, journal)` };
  }
  const { id, body } = req;
  try {
    switch (req.type) {
      case 'top':
        return { id, ok: true, result: daemon.processes({ limit: int(body.limit, 20, MAX_ROWS) }) };
      case 'explain': {
        const target = body.pid ?? body.target;
        if (typeof target !== 'number' && typeof target !== 'string') return { id, ok: false, error: 'explain needs body.pid (a process id)' };
        return { id, ok: true, result: daemon.explain(String(target)) };
      }
      case 'journal':
        return { id, ok: true, result: daemon.journal({ limit: int(body.limit, 50, MAX_ROWS), since: typeof body.since === 'number' ? body.since : undefined }) };
    }
  } catch (err) {
    return { id, ok: false, error: err instanceof ApiError ? err.message : `failed: ${(err as Error).message}` };
  }
}
