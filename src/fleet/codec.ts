// OpAMP on the wire: protobuf encoding of AgentToServer / ServerToAgent, the WebSocket
// message header, and conversions between OpAMP attributes and plain records.
// Shared by the agent's client (src/fleet/client) and the hub (src/hub).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AgentToServerSchema,
  ServerToAgentSchema,
  type AgentToServer,
  type ServerToAgent,
} from './gen/opamp_pb.js';
import { AnyValueSchema, KeyValueSchema, type AnyValue, type KeyValue } from './gen/anyvalue_pb.js';

export * from './gen/opamp_pb.js';
export * from './gen/anyvalue_pb.js';
export { create, fromBinary, toBinary };

/** The one content type OpAMP's HTTP transport uses, both ways. */
export const OPAMP_CONTENT_TYPE = 'application/x-protobuf';
/** OpAMP's path, on the hub and on any server. */
export const OPAMP_PATH = '/v1/opamp';

export function decodeAgentToServer(bytes: Uint8Array): AgentToServer {
  return fromBinary(AgentToServerSchema, bytes);
}
export function encodeAgentToServer(msg: AgentToServer): Uint8Array {
  return toBinary(AgentToServerSchema, msg);
}
export function decodeServerToAgent(bytes: Uint8Array): ServerToAgent {
  return fromBinary(ServerToAgentSchema, bytes);
}
export function encodeServerToAgent(msg: ServerToAgent): Uint8Array {
  return toBinary(ServerToAgentSchema, msg);
}

/**
 * A WebSocket message is a varint header (0 in this version of OpAMP) followed by the
 * protobuf bytes. Returns the protobuf part, or throws on a header other than 0.
 */
export function unframeWebSocket(data: Uint8Array): Uint8Array {
  let header = 0n;
  let shift = 0n;
  for (let i = 0; i < data.length && i < 10; i++) {
    const byte = data[i]!;
    header |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      if (header !== 0n) throw new Error(`unsupported OpAMP WebSocket header ${header}`);
      return data.subarray(i + 1);
    }
    shift += 7n;
  }
  throw new Error('malformed OpAMP WebSocket header');
}

export function frameWebSocket(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = 0;
  out.set(payload, 1);
  return out;
}

/** Attribute values as the hub and the agent handle them: scalars, or JSON for the rest. */
export type AttributeValue = string | number | boolean;

export function anyValueToPlain(value: AnyValue | undefined): AttributeValue | null {
  const v = value?.value;
  switch (v?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return v.value;
    case 'intValue':
      return Number(v.value);
    case 'bytesValue':
      return Buffer.from(v.value).toString('hex');
    case 'arrayValue':
      return JSON.stringify(v.value.values.map((x) => anyValueToPlain(x)));
    case 'kvlistValue':
      return JSON.stringify(attributesToRecord(v.value.values));
    default:
      return null;
  }
}

export function attributesToRecord(attrs: readonly KeyValue[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of attrs) {
    const plain = anyValueToPlain(kv.value);
    if (plain !== null) out[kv.key] = plain;
  }
  return out;
}

export function plainToAnyValue(value: AttributeValue): AnyValue {
  if (typeof value === 'string') return create(AnyValueSchema, { value: { case: 'stringValue', value } });
  if (typeof value === 'boolean') return create(AnyValueSchema, { value: { case: 'boolValue', value } });
  if (Number.isInteger(value)) return create(AnyValueSchema, { value: { case: 'intValue', value: BigInt(value) } });
  return create(AnyValueSchema, { value: { case: 'doubleValue', value } });
}

export function recordToAttributes(record: Record<string, AttributeValue>): KeyValue[] {
  return Object.entries(record).map(([key, value]) => create(KeyValueSchema, { key, value: plainToAnyValue(value) }));
}

/** Instance UIDs travel as 16 bytes; people read them as UUID text. */
export function uidToString(uid: Uint8Array): string {
  const hex = Buffer.from(uid).toString('hex');
  if (uid.length !== 16) return hex;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uidFromString(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) throw new Error(`not an instance UID: ${text}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
