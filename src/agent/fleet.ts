/**
 * The agent in a fleet: wires the OpAMP client (src/fleet/client) to the daemon. What it reports:
 * the description (identity, host, labels), health (the profile in force and why), the effective
 * configuration (redacted), the remote config status. What it takes: remote config (the fleet layer,
 * applied through the daemon's reload path and kept as last-known-good in the store), the own-metrics
 * destination (fleet-metrics.ts), and the hub's requests (top, explain, journal: fleet-requests.ts).
 *
 * At start, before the hub answers, the last good fleet layer from the store is in force
 * (`openFleetLayer`): a hub outage changes nothing; with no endpoint the layer is dropped.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import { ConfigError, redactConfig, redactUrl, type Config } from '../config/index.js';
import type { Redactor } from '../config/secrets.js';
import { OpampClient } from '../fleet/client/client.js';
import type { TlsOptions } from '../fleet/client/types.js';
import { AgentCapabilities, RemoteConfigStatuses, uidFromString, uidToString, type AgentRemoteConfig } from '../fleet/codec.js';
import { NRDOT_CAPABILITY } from '../fleet/directives.js';
import { REQUEST_MESSAGE_TYPE, RESPONSE_MESSAGE_TYPE } from '../fleet/requests.js';
import { uuidv7 } from '../fleet/uuid.js';
import type { Kpis } from '../pipeline/index.js';
import type { StateStore } from '../store/index.js';
import { VERSION } from '../version.js';
import type { Daemon } from './daemon.js';
import { parseFleetLayer, type RemoteStatus, type StartLayer } from './fleet-layer.js';
import { HubMetricsSender, type HubOffer } from './fleet-metrics.js';
import { answerRequest } from './fleet-requests.js';
import type { Logger } from './log.js';
import type { ProfileInForce } from './profiles.js';

const CAPABILITIES = [
  AgentCapabilities.AgentCapabilities_ReportsStatus,
  AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig,
  AgentCapabilities.AgentCapabilities_ReportsRemoteConfig,
  AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig,
  AgentCapabilities.AgentCapabilities_ReportsHealth,
  AgentCapabilities.AgentCapabilities_ReportsHeartbeat,
  AgentCapabilities.AgentCapabilities_ReportsOwnMetrics,
].reduce((a, c) => a | BigInt(c), 0n);

/** Where the own-metrics offer is remembered, so that KPIs queue from the start even while the hub is down. */
const OFFER_SETTING = 'fleet.own_metrics';

/** This agent's instance UID: the store's, or a new UUIDv7 kept there. */
export function instanceUid(store: StateStore): Uint8Array {
  const kept = store.fleet.instanceUid();
  if (kept) {
    try {
      const uid = uidFromString(kept);
      if (uid.length === 16) return uid;
    } catch {
      // a new one below
    }
  }
  const uid = uuidv7();
  store.fleet.setInstanceUid(uidToString(uid), Date.now() / 1000);
  return uid;
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export interface AgentFleetParts {
  daemon: Daemon;
  config: Config;
  store: StateStore;
  log: Logger;
  redactor: Redactor;
  dataDir: string;
  tls: TlsOptions;
  start: StartLayer;
  /** For tests: the client's timings. */
  clientOptions?: { heartbeatSeconds?: number; backoffInitialMs?: number; backoffMaxMs?: number; requestTimeoutMs?: number };
}

export class AgentFleet {
  private readonly client: OpampClient;
  private remote: RemoteStatus | null;
  private healthKey = '';
  private readonly metrics: HubMetricsSender;
  private readonly endpoint: string;
  private readonly hostId = readTrimmed('/etc/machine-id') ?? hostname();
  private readonly bootId = readTrimmed('/proc/sys/kernel/random/boot_id');
  /** When this host booted (Unix seconds, /proc/stat's btime): the hub tells a reboot from a clone by it. */
  private readonly bootTime = Number(/^btime (\d+)$/m.exec(readTrimmed('/proc/stat') ?? '')?.[1] ?? 0);

  constructor(private readonly p: AgentFleetParts) {
    const fleet = p.config.fleet;
    this.endpoint = redactUrl(fleet.endpoint);
    p.redactor.add(Object.values(fleet.headers));
    this.remote = p.start.status;
    this.metrics = new HubMetricsSender({ dataDir: p.dataDir, tls: p.tls, headers: fleet.headers, log: p.log, redactor: p.redactor });
    this.client = new OpampClient({
      endpoint: fleet.endpoint,
      headers: fleet.headers,
      tls: p.tls,
      instanceUid: instanceUid(p.store),
      capabilities: CAPABILITIES,
      customCapabilities: [NRDOT_CAPABILITY],
      log: p.log,
      ...p.clientOptions,
      hooks: {
        onRemoteConfig: (rc) => this.onRemoteConfig(rc),
        onNewInstanceUid: (uid) => {
          p.store.fleet.setInstanceUid(uidToString(uid), Date.now() / 1000);
          this.describe();
        },
        onOwnMetrics: (offer) => {
          p.store.setSetting(OFFER_SETTING, offer ?? undefined);
          void this.metrics.setOffer(offer);
        },
        onCustomMessage: (m) => {
          if (m.capability !== NRDOT_CAPABILITY || m.type !== REQUEST_MESSAGE_TYPE) return;
          const answer = answerRequest(p.daemon, m.data);
          // Scrubbed as text, as every API answer is (a command line may carry a secret).
          if (answer) this.client.sendCustomMessage(NRDOT_CAPABILITY, RESPONSE_MESSAGE_TYPE, new TextEncoder().encode(p.redactor.scrub(JSON.stringify(answer))));
        },
      },
    });
    this.describe();
    this.configChanged();
    if (this.remote) this.client.setRemoteConfigStatus(this.remote.hash, RemoteConfigStatuses[`RemoteConfigStatuses_${this.remote.status}`], this.remote.message);
  }

  get instanceUid(): string {
    return uidToString(this.client.instanceUid);
  }

  start(): void {
    const offer = this.p.store.getSetting<HubOffer>(OFFER_SETTING);
    if (offer) void this.metrics.setOffer(offer);
    this.p.log.info({ opamp_endpoint: this.endpoint, instance_uid: this.instanceUid, transport: this.client.state.transport }, `fleet hub ${this.endpoint} (${this.client.state.transport}), instance UID ${this.instanceUid}`);
    this.profileInForce(this.p.daemon.inForce());
    this.client.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.client.stop(), this.metrics.stop()]);
  }

  private describe(): void {
    const labels = Object.fromEntries(Object.entries(this.p.config.fleet.labels).map(([k, v]) => [`nrdot.fleet.labels.${k}`, v]));
    this.client.setDescription(
      { 'service.name': 'nrdot-plus', 'service.instance.id': this.instanceUid, 'host.id': this.hostId },
      { 'service.version': VERSION, 'host.name': hostname(), 'os.type': process.platform, ...(this.bootId ? { 'nrdot.host.boot_id': this.bootId } : {}), ...(this.bootTime ? { 'nrdot.host.boot_time': this.bootTime } : {}), ...labels },
    );
  }

  /** The configuration in force changed: the effective config, redacted, goes to the hub. */
  configChanged(): void {
    const config = this.p.daemon.currentConfig;
    const text = this.p.redactor.scrub(stringify(redactConfig(config)));
    this.client?.setEffectiveConfig({ 'optimization.yaml': text });
  }

  /** The profile in force and why, as health (sent when it changes). */
  profileInForce(f: ProfileInForce): void {
    const key = `${f.profile}|${f.source}|${f.note ?? ''}`;
    if (key === this.healthKey || !this.client) return;
    this.healthKey = key;
    const reason = this.reason(f);
    this.client.setHealth({ healthy: true, status: `profile ${f.profile} (${reason})`, attributes: { 'nrdot.profile': f.profile, 'nrdot.profile.reason': reason } });
  }

  private reason(f: ProfileInForce): string {
    switch (f.source) {
      case 'state store': {
        // Who stored it: the latest change to it that was not the fleet's or the schedule's (they mask it, they do not set it).
        const who = this.p.store.journal({ limit: 20 }).find((e) => e.to === f.profile && e.who !== 'fleet' && e.who !== 'schedule')?.who;
        // The agent itself stores the configured default at the first start.
        return who === 'control loop' ? 'control loop' : who === 'nrdot-plus' ? 'configured default' : "operator's profile";
      }
      case 'configuration':
        return 'configured default';
      default:
        return f.source;
    }
  }

  /** One interval: own metrics and hub KPIs to the offered destination. */
  interval(k: Kpis, shadows: readonly Kpis[], exportHealthy: boolean | null): void {
    const batch = this.p.daemon.lastSelfBatch;
    this.metrics.submit({
      kpis: k,
      shadows,
      self: batch?.metrics ?? [],
      timestamp: batch?.timestamp ?? k.timestamp,
      intervalStart: batch?.intervalStart ?? null,
      exportHealthy,
      resource: { 'service.name': 'nrdot-plus', 'service.instance.id': this.instanceUid, 'host.name': hostname() },
    });
  }

  private onRemoteConfig(rc: AgentRemoteConfig): void {
    const hash = rc.configHash;
    if (this.remote && this.remote.status !== 'UNSET' && Buffer.from(hash).equals(Buffer.from(this.remote.hash))) return; // already handled
    const files: Record<string, string> = {};
    for (const [name, file] of Object.entries(rc.config?.configMap ?? {})) files[name] = new TextDecoder().decode(file.body);
    let status: RemoteStatus;
    try {
      const layer = parseFleetLayer(files);
      const r = this.p.daemon.applyFleetLayer(layer, { who: 'fleet', reason: 'remote config from the hub' });
      this.p.store.fleet.setLayer({ hash: Buffer.from(hash), files, received: Date.now() / 1000 });
      if (layer.ignored.length) this.p.log.info({ ignored: layer.ignored }, `fleet configuration: entries not for this agent ignored: ${layer.ignored.join(', ')}`);
      status = r.restart_needed.length > 0 ? { hash, status: 'APPLYING', message: `${r.restart_needed.join(', ')} take effect at the next start` } : { hash, status: 'APPLIED', message: '' };
    } catch (err) {
      const message = this.p.redactor.scrub(err instanceof ConfigError ? err.message : (err as Error).message);
      this.p.log.error({ fleet_config_hash: Buffer.from(hash).toString('hex') }, `fleet configuration from the hub not applied, the previous one stays in force: ${message}`);
      status = { hash, status: 'FAILED', message };
    }
    this.remote = status;
    this.client.setRemoteConfigStatus(status.hash, RemoteConfigStatuses[`RemoteConfigStatuses_${status.status}`], status.message);
  }

  status(): unknown {
    const s = this.client.state;
    const layer = this.p.daemon.fleetLayer;
    return {
      enabled: true,
      endpoint: this.endpoint,
      transport: s.transport,
      connected: s.connected,
      last_contact: s.lastContact === null ? null : new Date(s.lastContact).toISOString(),
      last_error: s.lastError === null ? null : this.p.redactor.scrub(s.lastError),
      failures: s.failures,
      heartbeat_s: s.heartbeatSeconds,
      instance_uid: this.instanceUid,
      labels: this.p.config.fleet.labels,
      remote_config: this.remote ? { status: this.remote.status, hash: Buffer.from(this.remote.hash).toString('hex'), error: this.remote.message || null, fragments: layer.fragments.map((f) => f.name) } : { status: 'UNSET', hash: null, error: null, fragments: [] },
      fleet_pin: layer.directives.pin,
      control_loop: layer.directives.control_loop,
      own_metrics: this.metrics.stats(),
    };
  }
}
