/**
 * A loopback OTLP/HTTP metrics receiver for the tests. It decodes every request with the official
 * OTLP protobuf definitions (the protobufjs code that OpenTelemetry generated from
 * opentelemetry-proto, shipped in @opentelemetry/otlp-transformer 0.57, installed under the alias
 * `protobufjs-otlp`), never with the code under test. Answers can be scripted per request.
 */
import { EventEmitter, once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** The part of protobufjs's static message API used here (the generated file is typed only as a Root). */
interface MessageClass {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: typeof String; defaults?: boolean }): unknown;
  create(properties: object): unknown;
  encode(message: unknown): { finish(): Uint8Array };
}
interface Generated {
  opentelemetry: { proto: { collector: { metrics: { v1: Record<'ExportMetricsServiceRequest' | 'ExportMetricsServiceResponse', MessageClass> } } } };
}
const root = createRequire(import.meta.url)('protobufjs-otlp/build/src/generated/root.js') as Generated;
/** The official ExportMetricsServiceRequest and ExportMetricsServiceResponse messages. */
export const { ExportMetricsServiceRequest, ExportMetricsServiceResponse } = root.opentelemetry.proto.collector.metrics.v1;

/** AggregationTemporality of opentelemetry/proto/metrics/v1/metrics.proto. */
export const TEMPORALITY = { DELTA: 1, CUMULATIVE: 2 } as const;

export interface Attribute {
  key: string;
  value: { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean };
}
export interface DataPoint {
  attributes?: Attribute[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asInt?: string;
  asDouble?: number;
}
export interface DecodedMetric {
  name: string;
  unit: string;
  description: string;
  gauge?: { dataPoints: DataPoint[] };
  sum?: { dataPoints: DataPoint[]; aggregationTemporality: number; isMonotonic: boolean };
}
export interface DecodedResource {
  resource: { attributes: Attribute[] };
  scopeMetrics: Array<{ scope: { name: string }; metrics: DecodedMetric[] }>;
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** Bytes of the body as it came over the wire (compressed or not). */
  wireBytes: number;
  /** Decompressed protobuf bytes. */
  protobufBytes: number;
  resourceMetrics: DecodedResource[];
  /** The answer given. */
  status: number;
  /** When it arrived (performance.now()). */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Rejected datapoints to report in a partial success (status 200). */
  rejected?: { count: number; message: string };
  body?: string;
}

/** Decides the answer to the n-th request (0-based); default 200. */
export type Responder = (n: number, request: Omit<ReceivedRequest, 'status'>) => Answer;

export function attrs(list: Attribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of list ?? []) {
    const v = a.value;
    out[a.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.boolValue ?? '');
  }
  return out;
}

export class OtlpReceiver extends EventEmitter {
  readonly requests: ReceivedRequest[] = [];
  respond: Responder = () => ({ status: 200 });
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    super();
  }

  /** Listens on 127.0.0.1 (an ephemeral port unless one is given); with tls, over HTTPS. */
  static async start(options: { port?: number; tls?: { key: string; cert: string } } = {}): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | null = null;
    const handler = (req: IncomingMessage, res: ServerResponse): void => void receiver!.handle(req, res);
    const server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    receiver = new OtlpReceiver(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`);
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves once a request makes `done` true (checked at every request); rejects after timeoutMs. */
  until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('request', check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.requests.length} requests so far)`));
      }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.off('request', check);
        resolve();
      };
      this.on('request', check);
    });
  }

  /** The resources of the requests that were accepted (2xx). */
  accepted(): DecodedResource[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.resourceMetrics);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const wire = Buffer.concat(chunks);
    if (req.method !== 'POST' || req.url !== '/v1/metrics') {
      res.writeHead(404).end();
      return;
    }
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
    const decoded = ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(body), { longs: String, defaults: false }) as {
      resourceMetrics?: DecodedResource[];
    };
    const request = { headers: req.headers, wireBytes: wire.length, protobufBytes: body.length, resourceMetrics: decoded.resourceMetrics ?? [], at: performance.now() };
    const answer = this.respond(this.requests.length, request);
    this.requests.push({ ...request, status: answer.status });
    let payload: Uint8Array | string = answer.body ?? '';
    const headers: Record<string, string> = { ...answer.headers };
    if (answer.status === 200) {
      const message = ExportMetricsServiceResponse.create(
        answer.rejected ? { partialSuccess: { rejectedDataPoints: answer.rejected.count, errorMessage: answer.rejected.message } } : {},
      );
      payload = ExportMetricsServiceResponse.encode(message).finish();
      headers['content-type'] = 'application/x-protobuf';
    }
    res.writeHead(answer.status, headers).end(payload);
    this.emit('request');
  }
}
