/**
 * A small OpAMP server over plain HTTP for the agent's tests: it keeps what each agent reported, and
 * sends a config map (with its hash), own-metrics offers and custom messages as a test scripts them.
 * Written with the project's codec (the interop test runs the agent against a server nobody here wrote).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  create,
  decodeAgentToServer,
  encodeServerToAgent,
  RemoteConfigStatuses,
  ServerToAgentSchema,
  attributesToRecord,
  uidToString,
  type AgentToServer,
  type AttributeValue,
} from '../src/fleet/codec.js';

export interface AgentView {
  uid: string;
  messages: AgentToServer[];
  headers: IncomingHttpHeaders[];
  identifying: Record<string, AttributeValue>;
  nonIdentifying: Record<string, AttributeValue>;
  health: { status: string; attributes: Record<string, AttributeValue> } | null;
  remote: { status: string; hash: string; error: string } | null;
  effective: string | null;
  responses: Array<Record<string, unknown>>;
}

const STATUS = ['UNSET', 'APPLIED', 'APPLYING', 'FAILED'];

export class FakeHub {
  readonly agents = new Map<string, AgentView>();
  private files: Record<string, string> | null = null;
  private hash = new Uint8Array();
  ownMetrics: string | null = null;
  heartbeatSeconds = 1;
  /** Given once as agent_identification.new_instance_uid to the next agent that calls with another UID (a clone, say). */
  newUid: Uint8Array | null = null;
  private readonly requests: Array<{ capability: string; type: string; data: Uint8Array }> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeHub> {
    let hub: FakeHub | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const wire = Buffer.concat(chunks);
        const reply = hub!.handle(decodeAgentToServer(req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire), req.headers);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(reply));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    hub = new FakeHub(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/opamp`);
    return hub;
  }

  /** The config map sent to every agent until changed (its hash: sha256 of the entries). */
  setConfig(files: Record<string, string>): string {
    this.files = files;
    const h = createHash('sha256');
    for (const name of Object.keys(files).sort()) h.update(name).update('\0').update(files[name]!).update('\0');
    this.hash = new Uint8Array(h.digest());
    return Buffer.from(this.hash).toString('hex');
  }

  request(type: string, body: Record<string, unknown>, id = String(Date.now())): string {
    this.requests.push({ capability: 'io.nrdot.plus/v1', type: 'request', data: Buffer.from(JSON.stringify({ id, type, body })) });
    return id;
  }

  only(): AgentView {
    const [a] = [...this.agents.values()];
    if (!a) throw new Error('no agent has called the hub');
    return a;
  }

  private handle(msg: AgentToServer, headers: IncomingHttpHeaders): Uint8Array {
    const uid = uidToString(msg.instanceUid);
    let a = this.agents.get(uid);
    if (!a) {
      a = { uid, messages: [], headers: [], identifying: {}, nonIdentifying: {}, health: null, remote: null, effective: null, responses: [] };
      this.agents.set(uid, a);
    }
    a.messages.push(msg);
    a.headers.push(headers);
    if (msg.agentDescription) {
      a.identifying = attributesToRecord(msg.agentDescription.identifyingAttributes);
      a.nonIdentifying = attributesToRecord(msg.agentDescription.nonIdentifyingAttributes);
    }
    if (msg.health) a.health = { status: msg.health.status, attributes: attributesToRecord(msg.health.attributes) };
    const rcs = msg.remoteConfigStatus;
    if (rcs) a.remote = { status: STATUS[rcs.status] ?? String(rcs.status), hash: Buffer.from(rcs.lastRemoteConfigHash).toString('hex'), error: rcs.errorMessage };
    const eff = msg.effectiveConfig?.configMap?.configMap;
    if (eff) a.effective = Object.values(eff).map((f) => Buffer.from(f.body).toString()).join('\n');
    if (msg.customMessage?.type === 'response') a.responses.push(JSON.parse(Buffer.from(msg.customMessage.data).toString()) as Record<string, unknown>);
    const reply = create(ServerToAgentSchema, {
      instanceUid: msg.instanceUid,
      connectionSettings: {
        opamp: { heartbeatIntervalSeconds: BigInt(this.heartbeatSeconds) },
        ...(this.ownMetrics ? { ownMetrics: { destinationEndpoint: this.ownMetrics } } : {}),
      },
    });
    if (this.newUid && uidToString(this.newUid) !== uid) {
      reply.agentIdentification = create(ServerToAgentSchema, { agentIdentification: { newInstanceUid: this.newUid } }).agentIdentification;
      this.newUid = null;
    }
    const reported = a.remote?.hash ?? '';
    if (this.files && reported !== Buffer.from(this.hash).toString('hex')) {
      const configMap = Object.fromEntries(Object.entries(this.files).map(([name, text]) => [name, { body: Buffer.from(text), contentType: name.endsWith('.json') ? 'application/json' : 'text/yaml' }]));
      reply.remoteConfig = create(ServerToAgentSchema, { remoteConfig: { config: { configMap }, configHash: this.hash } }).remoteConfig;
    }
    const custom = this.requests.shift();
    if (custom) reply.customMessage = create(ServerToAgentSchema, { customMessage: custom }).customMessage;
    return encodeServerToAgent(reply);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export { RemoteConfigStatuses };
