// The hub's OTLP/HTTP metrics receiver (POST /v1/metrics): agents send their own metrics here
// (offered as ConnectionSettingsOffers.own_metrics). Protobuf or JSON, gzip or not. Each
// resource's service.instance.id names the agent; its nrdot.* points become KPI samples (per
// minute per agent and per label group and profile) and its latest KPIs in the registry.
import { fromBinary, fromJson, toBinary, toJson, create } from '@bufbuild/protobuf';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HubContext } from '../context.js';
import { bearerMatches, gunzipBounded, PayloadTooLargeError } from '../opamp/body.js';
import { createOpampMetrics, type OpampMetrics, type Outcome } from '../opamp/metrics.js';
import type { AgentRecord, KpiSample } from '../store/types.js';
import {
  ExportMetricsPartialSuccessSchema,
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
  type ExportMetricsServiceRequest,
} from './gen/otlp_metrics_service_pb.js';
import { agentKpisOf, groupOf, parseRequest, type ParsedResource } from './kpis.js';

export const OTLP_METRICS_PATH = '/v1/metrics';
const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

export interface OtlpOptions {
  /** Counters to fill (the OpAMP server's, so /metrics has both); a new set when absent. */
  metrics?: OpampMetrics;
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  errors: string[];
}

/** Stores what one request carries; returns how many points were taken and refused. */
export async function ingestMetrics(ctx: HubContext, req: ExportMetricsServiceRequest): Promise<IngestResult> {
  const result: IngestResult = { accepted: 0, rejected: 0, errors: [] };
  const samples: KpiSample[] = [];
  const latest = new Map<string, { agent: AgentRecord; res: ParsedResource }>();
  for (const res of parseRequest(req)) {
    const agent = res.instanceUid ? await ctx.store.getAgent(res.instanceUid) : null;
    if (!agent) {
      result.rejected += res.points;
      result.errors.push(res.instanceUid ? `unknown agent ${res.instanceUid} (it must connect over OpAMP first)` : 'a resource without service.instance.id');
      continue;
    }
    result.accepted += res.points;
    const group = groupOf(agent.labels);
    for (const iv of res.intervals) {
      if (Object.keys(iv.values).length === 0 && iv.profile === null) continue;
      samples.push({ instanceUid: agent.instanceUid, timeMs: iv.timeMs, group, profile: iv.profile ?? agent.profile ?? '', values: iv.values });
    }
    if (res.intervals.length > 0) latest.set(agent.instanceUid, { agent, res });
  }
  if (samples.length > 0) await ctx.store.ingestKpis(samples);
  for (const { agent, res } of latest.values()) {
    const last = res.intervals[res.intervals.length - 1]!;
    // A queue replayed after an outage brings old intervals: the registry keeps the newest.
    if (agent.kpis && agent.kpis.timeMs > last.timeMs) continue;
    await ctx.store.upsertAgent(agent.instanceUid, { kpis: agentKpisOf(last, agent.profile) }, ctx.now());
  }
  return result;
}

export async function registerOtlp(app: FastifyInstance, ctx: HubContext, opts: OtlpOptions = {}): Promise<void> {
  const metrics = opts.metrics ?? createOpampMetrics();
  const { settings, log } = ctx;
  const maxBody = settings.maxBodyBytes;

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBody }, (_req, body, done) => done(null, body));
    const text = (reply: FastifyReply, code: number, outcome: Outcome, message: string): FastifyReply => {
      metrics.otlpRequests[outcome]++;
      return reply.code(code).type('text/plain').send(`OTLP: ${message}\n`);
    };
    scope.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
      if (err.statusCode === 413) return text(reply, 413, 'too_large', `request body larger than ${maxBody} bytes`);
      return text(reply, err.statusCode && err.statusCode < 500 ? err.statusCode : 400, 'bad_request', err.message);
    });

    scope.post(OTLP_METRICS_PATH, async (req, reply) => {
      if (settings.agentSecret !== null && !bearerMatches(req.headers.authorization, settings.agentSecret)) {
        return text(reply.header('www-authenticate', 'Bearer'), 401, 'unauthorized', 'missing or wrong enrollment secret (Authorization: Bearer ...)');
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== PROTOBUF && type !== JSON_TYPE) {
        return text(reply, 415, 'unsupported', `Content-Type must be ${PROTOBUF} or ${JSON_TYPE} (got ${req.headers['content-type'] ?? 'none'})`);
      }
      let body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (enc === 'gzip') {
        try {
          body = await gunzipBounded(body, maxBody);
        } catch (err) {
          if (err instanceof PayloadTooLargeError) return text(reply, 413, 'too_large', err.message);
          return text(reply, 400, 'bad_request', `gzip body does not decompress: ${(err as Error).message}`);
        }
      } else if (enc !== 'identity') {
        return text(reply, 415, 'unsupported', `Content-Encoding ${enc} is not supported (gzip or none)`);
      }
      let request: ExportMetricsServiceRequest;
      try {
        request =
          type === PROTOBUF
            ? fromBinary(ExportMetricsServiceRequestSchema, body)
            : fromJson(ExportMetricsServiceRequestSchema, JSON.parse(body.toString('utf8')), { ignoreUnknownFields: true });
      } catch (err) {
        log.warn({ remote: req.ip, err: (err as Error).message }, 'malformed OTLP metrics request');
        return text(reply, 400, 'bad_request', `malformed ExportMetricsServiceRequest: ${(err as Error).message}`);
      }
      let result: IngestResult;
      try {
        result = await ingestMetrics(ctx, request);
      } catch (err) {
        log.error({ err }, 'could not store agents\' metrics');
        metrics.otlpRequests.unavailable++;
        return reply.code(503).header('retry-after', '30').type('text/plain').send('OTLP: the hub could not store the metrics; retry later\n');
      }
      metrics.otlpRequests.ok++;
      metrics.otlpPointsAccepted += result.accepted;
      metrics.otlpPointsRejected += result.rejected;
      const response = create(ExportMetricsServiceResponseSchema, {});
      if (result.rejected > 0) {
        response.partialSuccess = create(ExportMetricsPartialSuccessSchema, {
          rejectedDataPoints: BigInt(result.rejected),
          errorMessage: result.errors.slice(0, 5).join('; '),
        });
      }
      if (type === PROTOBUF) return reply.code(200).type(PROTOBUF).send(Buffer.from(toBinary(ExportMetricsServiceResponseSchema, response)));
      return reply.code(200).type(JSON_TYPE).send(JSON.stringify(toJson(ExportMetricsServiceResponseSchema, response)));
    });
  });
}
