/**
 * Cutting a batch into OTLP/HTTP request bodies that stay under the size limit as sent (SPEC,
 * "Export"), and cutting a request in two when a backend still answers 413.
 *
 * An ExportMetricsServiceRequest is a sequence of `resource_metrics` fields (field 1, length-
 * delimited), so the concatenation of whole fields is a valid request and a request splits between
 * any two of them without decoding anything inside.
 *
 * The queue stores every body gzip-compressed (disk space); with compression `none` the sender
 * inflates it before sending.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

/** Raw bytes gathered before a compressed group is measured (protobuf gzips 5-15x). */
const RAW_GROUP_BYTES = 8_000_000;

export interface Requests {
  /** gzip-compressed request bodies, in order. */
  bodies: Buffer[];
  /** Resources that alone exceed the limit (they cannot be split further). */
  oversize: number;
}

/**
 * Groups per-resource encodings (each one `resource_metrics` field) into request bodies whose size
 * as sent (compressed or not) is below `maxBytes`.
 */
export function buildRequests(parts: readonly Uint8Array[], compression: 'gzip' | 'none', maxBytes: number): Requests {
  const out: Requests = { bodies: [], oversize: 0 };
  const rawLimit = compression === 'gzip' ? RAW_GROUP_BYTES : maxBytes - 1;
  let group: Uint8Array[] = [];
  let groupBytes = 0;
  const flush = (): void => {
    if (group.length > 0) emit(group, compression, maxBytes, out);
    group = [];
    groupBytes = 0;
  };
  for (const part of parts) {
    if (groupBytes + part.length > rawLimit) flush();
    group.push(part);
    groupBytes += part.length;
  }
  flush();
  return out;
}

/** Compresses a group; halves it (by resources) until each half is under the limit as sent. */
function emit(parts: Uint8Array[], compression: 'gzip' | 'none', maxBytes: number, out: Requests): void {
  const raw = Buffer.concat(parts);
  const gz = gzipSync(raw);
  const sent = compression === 'gzip' ? gz.length : raw.length;
  if (sent < maxBytes) {
    out.bodies.push(gz);
  } else if (parts.length === 1) {
    out.oversize++;
  } else {
    const half = Math.ceil(parts.length / 2);
    emit(parts.slice(0, half), compression, maxBytes, out);
    emit(parts.slice(half), compression, maxBytes, out);
  }
}

/** The top-level fields of a protobuf message, as byte ranges; null when it is not well formed. */
export function topLevelFields(buf: Uint8Array): Array<[number, number]> | null {
  const fields: Array<[number, number]> = [];
  let pos = 0;
  const varint = (): number | null => {
    let value = 0;
    for (let shift = 0; shift < 50; shift += 7) {
      if (pos >= buf.length) return null;
      const b = buf[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    return null;
  };
  while (pos < buf.length) {
    const start = pos;
    const tag = varint();
    if (tag === null) return null;
    switch (tag & 7) {
      case 0:
        if (varint() === null) return null;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const len = varint();
        if (len === null) return null;
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return null;
    }
    if (pos > buf.length) return null;
    fields.push([start, pos]);
  }
  return fields;
}

/**
 * Cuts a stored (gzip) body into two by resources, for a backend that answered 413. Null when it
 * holds a single resource (or is not a request at all): it cannot be made smaller.
 */
export function splitStored(stored: Buffer): [Buffer, Buffer] | null {
  const raw = gunzipSync(stored);
  const fields = topLevelFields(raw);
  if (!fields || fields.length < 2) return null;
  const half = Math.ceil(fields.length / 2);
  const cut = fields[half]![0];
  return [gzipSync(raw.subarray(0, cut)), gzipSync(raw.subarray(cut))];
}

/** The body as sent: the stored gzip as is, or inflated for compression `none`. */
export function bodyToSend(stored: Buffer, compression: 'gzip' | 'none'): Buffer {
  return compression === 'gzip' ? stored : gunzipSync(stored);
}
