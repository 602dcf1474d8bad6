// The hub's request channel to one NRDOT agent (top, explain PID, its profile journal), carried
// by OpAMP custom messages of the custom capability `io.nrdot.plus/v1` (NRDOT_CAPABILITY).
// Shared by the hub (src/hub/fleet) and the agent's OpAMP client, so both parse the same shapes.
//
//   hub -> agent: ServerToAgent.custom_message { capability: NRDOT_CAPABILITY, type: 'request',
//                 data: UTF-8 JSON AgentRequestMessage }
//   agent -> hub: AgentToServer.custom_message { capability: NRDOT_CAPABILITY, type: 'response',
//                 data: UTF-8 JSON AgentResponseMessage }
//
// Over plain HTTP the agent answers in its next poll (send it at once: the hub offers a short
// heartbeat while a request is pending). One request per custom message; the agent answers
// each id once. An id the agent does not know or a type it does not serve gets ok:false.
import { z } from 'zod';

export { NRDOT_CAPABILITY } from './directives.js';

export const REQUEST_MESSAGE_TYPE = 'request';
export const RESPONSE_MESSAGE_TYPE = 'response';

/** What the hub may ask. `body` per type: top {limit?: number}; explain {pid: number}; journal {limit?: number}. */
export const RequestTypeSchema = z.enum(['top', 'explain', 'journal']);
export type AgentRequestType = z.infer<typeof RequestTypeSchema>;

export const AgentRequestMessageSchema = z.object({
  id: z.string().min(1).max(200),
  type: RequestTypeSchema,
  body: z.record(z.string(), z.unknown()),
});
export type AgentRequestMessage = z.infer<typeof AgentRequestMessageSchema>;

export const AgentResponseMessageSchema = z.union([
  z.object({ id: z.string().min(1).max(200), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.string().min(1).max(200), ok: z.literal(false), error: z.string() }),
]);
export type AgentResponseMessage = z.infer<typeof AgentResponseMessageSchema>;

/** Largest custom message data either side accepts (bytes of JSON). */
export const MAX_REQUEST_DATA_BYTES = 4 * 1024 * 1024;

function parseJson(data: Uint8Array, what: string): unknown {
  if (data.length > MAX_REQUEST_DATA_BYTES) throw new Error(`${what} is ${data.length} bytes, above ${MAX_REQUEST_DATA_BYTES}`);
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as unknown;
  } catch {
    throw new Error(`${what} is not JSON`);
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
}

/** Parses a request's data (the agent side); throws an Error with a readable message. */
export function parseRequestMessage(data: Uint8Array): AgentRequestMessage {
  const parsed = AgentRequestMessageSchema.safeParse(parseJson(data, 'request'));
  if (!parsed.success) throw new Error(`bad request message: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/** Parses a response's data (the hub side); throws an Error with a readable message. */
export function parseResponseMessage(data: Uint8Array): AgentResponseMessage {
  const parsed = AgentResponseMessageSchema.safeParse(parseJson(data, 'response'));
  if (!parsed.success) throw new Error(`bad response message: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

export function encodeRequestMessage(msg: AgentRequestMessage): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(msg), 'utf8'));
}

export function encodeResponseMessage(msg: AgentResponseMessage): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(msg), 'utf8'));
}
