/**
 * Turning a pipeline batch into OTLP with OpenTelemetry's own serializers
 * (`@opentelemetry/otlp-transformer`): protobuf for the wire, JSON (camelCase, `timeUnixNano`
 * strings, as the Collector's file exporter writes) for files.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Batch, Metric, ResourceSeries } from '../pipeline/types.js';
import { SCOPE_NAME } from './size.js';

export type Temporality = 'delta' | 'cumulative';

export function hrTime(seconds: number): HrTime {
  const whole = Math.floor(seconds);
  return [whole, Math.round((seconds - whole) * 1e9)];
}

function toMetricData(m: Metric, batch: Batch, temporality: Temporality): MetricData {
  const end = hrTime(batch.timestamp);
  const descriptor = { name: m.name, description: m.description, unit: m.unit, valueType: m.integer ? ValueType.INT : ValueType.DOUBLE };
  if (m.kind === 'gauge') {
    return {
      descriptor,
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: m.points.map((p) => ({ startTime: end, endTime: end, attributes: p.attributes ?? {}, value: p.value })),
    };
  }
  const intervalStart = hrTime(batch.intervalStart ?? batch.timestamp);
  return {
    descriptor,
    aggregationTemporality: temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: m.monotonic,
    dataPoints: m.points.map((p) =>
      temporality === 'delta'
        ? { startTime: intervalStart, endTime: end, attributes: p.attributes ?? {}, value: p.value }
        : { startTime: hrTime(p.start ?? batch.timestamp), endTime: end, attributes: p.attributes ?? {}, value: p.cumulative ?? p.value },
    ),
  };
}

/** The instrumentation scope of the series (ours, unless another producer is imitated). */
export interface Scope {
  name: string;
  version?: string;
}

export function toResourceMetrics(r: ResourceSeries, batch: Batch, temporality: Temporality, scope: Scope = { name: SCOPE_NAME }): ResourceMetrics {
  return {
    resource: { attributes: r.attributes } as unknown as ResourceMetrics['resource'],
    scopeMetrics: [{ scope, metrics: r.metrics.map((m) => toMetricData(m, batch, temporality)) }],
  };
}

/**
 * One ExportMetricsServiceRequest in protobuf. The serializer takes one resource at a time; a request
 * with several is the concatenation of their encodings (resource_metrics is a repeated field).
 */
export function encodeProtobuf(resources: readonly ResourceSeries[], batch: Batch, temporality: Temporality, scope?: Scope): Uint8Array {
  const parts = resources.map((r) => ProtobufMetricsSerializer.serializeRequest(toResourceMetrics(r, batch, temporality, scope))!);
  return Buffer.concat(parts);
}

/** The OTLP JSON object of one ExportMetricsServiceRequest. */
export function toOtlpJson(resources: readonly ResourceSeries[], batch: Batch, temporality: Temporality): { resourceMetrics: unknown[] } {
  const decoder = new TextDecoder();
  const resourceMetrics: unknown[] = [];
  for (const r of resources) {
    const encoded = JsonMetricsSerializer.serializeRequest(toResourceMetrics(r, batch, temporality))!;
    resourceMetrics.push(...(JSON.parse(decoder.decode(encoded)) as { resourceMetrics: unknown[] }).resourceMetrics);
  }
  return { resourceMetrics };
}
