/**
 * Byte accounting without encoding (SPEC allows arithmetic within 1% of a real encoding; this is
 * exact for the encoder in encode.ts, which the tests check): the OTLP protobuf size of a batch as
 * `@opentelemetry/otlp-transformer` writes it, and an estimate of New Relic's billed bytes, where
 * every datapoint is stored with all its resource and point attributes.
 */
import type { Attributes, AttributeValue, Metric, ResourceSeries } from '../pipeline/types.js';

export const SCOPE_NAME = 'nrdot-plus';

function varintSize(n: number): number {
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(n / 0x800000000); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

/** A length-delimited field: tag, length, body (all our field numbers are below 16: one tag byte). */
function delimited(bodySize: number): number {
  return 1 + varintSize(bodySize) + bodySize;
}

function utf8Length(s: string): number {
  // Fast path for ASCII, which nearly every attribute is.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function anyValueSize(v: AttributeValue): number {
  if (typeof v === 'string') return delimited(utf8Length(v));
  if (typeof v === 'boolean') return 2;
  if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) return 1 + varintSize(v);
  return 9;
}

export function keyValueSize(key: string, value: AttributeValue): number {
  return delimited(delimited(utf8Length(key)) + delimited(anyValueSize(value)));
}

export function attributesSize(attributes: Attributes | null): number {
  if (attributes === null) return 0;
  let size = 0;
  for (const key in attributes) size += keyValueSize(key, attributes[key]!);
  return size;
}

/** NumberDataPoint: start and end time (fixed64), the value (double or sfixed64), attributes. */
function pointSize(attributes: Attributes | null): number {
  return delimited(27 + attributesSize(attributes));
}

export function metricSize(m: Metric): number {
  let points = 0;
  for (const p of m.points) points += pointSize(p.attributes);
  // Sum: aggregation temporality (always set) and is_monotonic (when true).
  const body = m.kind === 'sum' ? points + 2 + (m.monotonic ? 2 : 0) : points;
  let size = delimited(utf8Length(m.name)) + delimited(body);
  if (m.description) size += delimited(utf8Length(m.description));
  if (m.unit) size += delimited(utf8Length(m.unit));
  return delimited(size);
}

const SCOPE_SIZE = delimited(delimited(SCOPE_NAME.length));

/** One ResourceMetrics inside an ExportMetricsServiceRequest, its tag and length included. */
export function resourceSize(r: ResourceSeries): number {
  let metrics = 0;
  for (const m of r.metrics) metrics += metricSize(m);
  const resource = delimited((r.attributesSize ?? attributesSize(r.attributes)) + 2); // + dropped_attributes_count = 0
  return delimited(resource + delimited(SCOPE_SIZE + metrics));
}

/** Size of the request that carries these resources (a request is the concatenation of them). */
export function requestSize(resources: readonly ResourceSeries[]): number {
  let size = 0;
  for (const r of resources) size += resourceSize(r);
  return size;
}

function valueText(v: AttributeValue): number {
  return typeof v === 'string' ? utf8Length(v) : String(v).length;
}

export function billedAttributesBytes(attributes: Attributes | null): number {
  if (attributes === null) return 0;
  let size = 0;
  for (const key in attributes) size += key.length + valueText(attributes[key]!);
  return size;
}

/** Bytes of a stored datapoint apart from its attributes: metric name, value and timestamp. */
export const BILLED_POINT_OVERHEAD = 16;

/** New Relic's billed bytes for a resource: each datapoint stored with every attribute, denormalized. */
export function billedBytes(r: ResourceSeries): number {
  const resource = r.attributesBilled ?? billedAttributesBytes(r.attributes);
  let size = 0;
  for (const m of r.metrics) {
    for (const p of m.points) size += resource + m.name.length + billedAttributesBytes(p.attributes) + BILLED_POINT_OVERHEAD;
  }
  return size;
}

export function datapointCount(r: ResourceSeries): number {
  let n = 0;
  for (const m of r.metrics) n += m.points.length;
  return n;
}
