/**
 * The hub's request channel (custom capability io.nrdot.plus/v1): a ServerToAgent custom message of
 * type "request" with JSON {id, type: 'top' | 'explain' | 'journal', body}; the agent answers with a
 * custom message of type "response", JSON {id, ok, result | error}, in its next message (at once).
 * The answers are the local API's (`top`, `explain PID`, `journal`), bounded in size.
 */
import { ApiError } from '../api/errors.js';
import type { DaemonApi } from '../api/routes.js';

/** Most processes a `top` answer lists, and journal entries a `journal` answer holds. */
const MAX_ROWS = 200;

export interface FleetRequest {
  id: string;
  type: string;
  body?: Record<string, unknown>;
}

export type FleetResponse = { id: string; ok: true; result: unknown } | { id: string; ok: false; error: string };

const int = (v: unknown, fallback: number, max: number): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.min(max, Math.floor(v))) : fallback);

/** The answer to one request, or null when the message is not a request at all (no id to answer). */
export function answerRequest(daemon: Pick<DaemonApi, 'processes' | 'explain' | 'journal'>, data: Uint8Array): FleetResponse | null {
  let req: FleetRequest;
  try {
    req = JSON.parse(new TextDecoder().decode(data)) as FleetRequest;
  } catch {
    return null;
  }
  if (typeof req !== 'object' || req === null || (typeof req.id !== 'string' && typeof req.id !== 'number')) return null;
  const id = String(req.id);
  const body = typeof req.body === 'object' && req.body !== null ? req.body : {};
  try {
    switch (req.type) {
      case 'top':
        return { id, ok: true, result: daemon.processes({ limit: int(body.limit, 20, MAX_ROWS), action: typeof body.action === 'string' ? body.action : undefined, tier: typeof body.tier === 'string' ? body.tier : undefined }) };
      case 'explain': {
        const target = body.pid ?? body.target;
        if (typeof target !== 'number' && typeof target !== 'string') return { id, ok: false, error: 'explain needs body.pid (a process id) or body.target (a pid or a name)' };
        return { id, ok: true, result: daemon.explain(String(target)) };
      }
      case 'journal':
        return { id, ok: true, result: daemon.journal({ limit: int(body.limit, 50, MAX_ROWS), since: typeof body.since === 'number' ? body.since : undefined }) };
      default:
        return { id, ok: false, error: `unknown request type ${JSON.stringify(String(req.type)).slice(0, 60)} (known: top, explain, journal)` };
    }
  } catch (err) {
    return { id, ok: false, error: err instanceof ApiError ? err.message : `failed: ${(err as Error).message}` };
  }
}
