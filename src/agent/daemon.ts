/**
 * The daemon: wires the snapshot source -> optimizer -> exporters -> state store, serves the local
 * API, follows configuration changes (SIGHUP, `config reload`, the file changing), and keeps the
 * profile in force, the pipeline state and the KPI history in the store so that a restart (even
 * after kill -9) carries on where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError } from '../api/errors.js';
import { removeAgentInfo, writeAgentInfo } from '../api/discovery.js';
import { apiRoutes, type Actor, type CompareWindow, type DaemonApi, type HistoryQuery, type ProcessQuery } from '../api/routes.js';
import { startListener, type Listener } from '../api/server.js';
import { ConfigError, loadConfigAt, readConfigFile, redactConfig, unknownProfile, type AppliedEnv, type Config, type ConfigLocation } from '../config/index.js';
import type { Redactor } from '../config/secrets.js';
import type { Decision } from '../pipeline/index.js';
import type { Snapshot } from '../snapshot/types.js';
import { isSqliteError, kpiRecord, type JournalEntry, type KpiRecord, type ProfileState, type StateStore } from '../store/index.js';
import { Health, renderHealth, type FileExporter } from '../export/index.js';
import { VERSION } from '../version.js';
import { versusBaseline } from '../command/words.js';
import type { Collector, IntervalBudget, IntervalReport } from './collector.js';
import { ACCEPT_AFTER_SECONDS, DataClock, describeStep } from './data-clock.js';
import type { Logger } from './log.js';
import type { Optimizer, OtlpExport } from './optimizer.js';
import { compareProfiles, type ShadowProfiles } from './shadows.js';
import { ruleAt } from '../control/schedule.js';
import type { AlertEvent, WebhookSender } from '../alerts/webhook.js';
import type { Check } from '../control/controller.js';
import { ControlLoop } from './control.js';
import { rollback } from './rollback.js';
import { pinExpired, profileInForce, type ProfileInForce } from './profiles.js';
import { SelfMeter, selfUsageMetrics } from './self.js';
import type { SnapshotSource } from './source.js';
import { encodeState } from './state-codec.js';
import { fleetFragments, type FleetLayer } from './fleet-layer.js';
import type { AgentFleet } from './fleet.js';
import type { FleetPin } from '../fleet/directives.js';
import type { LoadedConfig } from '../config/index.js';

/** Shortest time between two reloads on SIGHUP (a storm of signals is coalesced). */
const SIGHUP_RELOAD_GAP_MS = 1000;

/** Sections a reload cannot apply to a running daemon: they take effect at the next start. */
export const RESTART_SECTIONS = ['exporters', 'server'];

export interface DaemonParts {
  config: Config;
  configFile: string | null;
  configLocation: ConfigLocation;
  env: AppliedEnv[];
  /** Flags that override the configuration (re-applied after a reload). */
  intervalFlag: number | undefined;
  dataDir: string;
  /** Gives up the data directory's lock. */
  unlock: () => void;
  log: Logger;
  store: StateStore;
  optimizer: Optimizer;
  /** The shadow profiles, run on each snapshot after the optimizer (advanced.shadow_profiles). */
  shadows: ShadowProfiles;
  source: SnapshotSource;
  otlp: OtlpExport | null;
  file: FileExporter | null;
  /** Where the pipeline state comes from (a state saved by another source is not reused). */
  stateSource: string;
  /** Webhook events, through the store's outbox. */
  webhooks: WebhookSender;
  /** The agent's redaction (the logger's too): every API answer goes through it; a reload adds its secrets. */
  redactor: Redactor;
  /** The fleet layer in force (fragments and directives from the hub; empty without one). */
  fleetLayer: FleetLayer;
}

export class Daemon implements DaemonApi {
  readonly meter = new SelfMeter();
  readonly startedAt = new Date();
  collector: Collector | null = null;
  listener: Listener | null = null;
  /** The link to the fleet hub, when fleet.endpoint is set (src/agent/fleet.ts). */
  fleet: AgentFleet | null = null;
  /** A fleet pin whose expiry was journaled (once). */
  private fleetPinExpired: string | null = null;
  replayFinished = false;
  private watcher: FSWatcher | null = null;
  private configText: string | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  /** The SIGHUP reload waiting, and when the last one ran (monotonic ms). */
  private sighupTimer: NodeJS.Timeout | null = null;
  private lastSighupReload = Number.NEGATIVE_INFINITY;
  private reloads = { ok: 0, failed: 0, last_error: null as string | null };
  /** Settings changed in the file that take effect at the next start. */
  private pendingRestart: string[] = [];
  private stopping: Promise<void> | null = null;
  /** The time rule applied last (to journal a rule beginning or ending once). */
  private scheduleRule: string | null = null;
  /** The latest snapshot's time. */
  private dataTime: number | null = null;
  /** Live snapshots' stamps against the monotonic clock, for the history (a replay's time is the recording's). */
  private readonly dataClock = new DataClock();
  /** The collection interval in force (a reload does not change it). */
  readonly intervalSeconds: number;
  readonly control: ControlLoop;
  /** The state store's writes each interval: a full disk degrades them, it does not stop the interval. */
  readonly storeHealth: Health;

  constructor(private readonly p: DaemonParts) {
    this.storeHealth = new Health(p.log, `state store ${p.store.path}`, 'this interval\'s KPIs and pipeline state are not saved', isSqliteError);
    this.configText = this.readConfigText();
    this.intervalSeconds = p.config.cost_model.collection_interval_seconds;
    this.control = new ControlLoop({
      store: p.store,
      log: p.log,
      config: p.config,
      raise: (event, details, time) => this.raise(event, details, time),
      shadows: (since, until) => p.store.shadowKpis({ after: since, until }),
    });
    // Off by default says nothing worth a line at every start; a stop by an operator or a rollback does.
    const stopped = this.control.stopped;
    if (stopped && stopped.who !== 'configuration') p.log.info({ stopped }, `control loop stopped (${stopped.who}: ${stopped.reason}); start it with nrdot-plus-ctl control start`);
  }

  /** The profile in force now (pin, emergency guard, schedule, state store, configuration). */
  inForce(now = this.clock()): ProfileInForce {
    return profileInForce(this.p.store.profileState(), this.p.config, now, this.control.guard, this.p.fleetLayer.directives.pin);
  }

  /** The fleet layer in force. */
  get fleetLayer(): FleetLayer {
    return this.p.fleetLayer;
  }

  /** The latest interval's self-metrics (for the fleet hub). */
  get lastSelfBatch(): Optimizer['lastSelf'] {
    return this.p.optimizer.lastSelf;
  }

  get currentConfig(): Config {
    return this.p.config;
  }

  /** Sends a webhook event (through the outbox; nothing when no webhook is configured for it). */
  private raise(event: AlertEvent, details: Record<string, unknown>, time: number): void {
    try {
      this.p.webhooks.raise(event, details, time);
    } catch (err) {
      this.p.log.error({ event }, `webhook event ${event} not stored: ${(err as Error).message}`);
    }
  }

  /** The profile the loop manages: the stored one, or the configuration's default. */
  private storedProfile(): string {
    const active = this.p.store.profileState().active;
    return active !== null && Object.hasOwn(this.p.config.profiles, active) ? active : this.p.config.state.active_profile;
  }

  /** One check of the control loop at `now`, then the profile in force applied. */
  private runCheck(now: number, forced: boolean): Check {
    const f = this.inForce(now);
    const rule = ruleAt(this.p.config.advanced.time_based_rules, new Date(now * 1000));
    // What the loop's profile gives way to once the guard lifts: a fleet pin, else the schedule.
    const scheduled = f.fleetPin && Object.hasOwn(this.p.config.profiles, f.fleetPin.profile) ? f.fleetPin.profile : rule && Object.hasOwn(this.p.config.profiles, rule.profile) ? rule.profile : null;
    const c = this.control.run(now, { profile: f.profile, source: f.source }, this.storedProfile(), scheduled, forced);
    this.apply();
    return c;
  }

  /** Unix seconds: the wall clock, or in a replay the time of the latest snapshot (schedules follow the data). */
  private clock(): number {
    return this.p.source.kind === 'replay' && this.dataTime !== null ? this.dataTime : Date.now() / 1000;
  }

  /** The profile in force, why, and the latest change of the journal (for status and ctl). */
  private described(): Omit<ProfileInForce, 'fleetPin'> & { fleet_pin: FleetPin | null; last_change: JournalEntry | null } {
    const { fleetPin, ...f } = this.inForce();
    return { ...f, fleet_pin: fleetPin, last_change: this.p.store.journal({ limit: 1 })[0] ?? null };
  }

  /**
   * Applies the profile in force to the optimizer (after a change, a reload, a pin's expiry, or a
   * time rule beginning or ending: those are journaled here, the others by the store).
   */
  private apply(): ProfileInForce {
    const now = this.clock();
    const f = this.inForce(now);
    const rule = ruleAt(this.p.config.advanced.time_based_rules, new Date(now * 1000));
    if ((rule?.name ?? null) !== this.scheduleRule) {
      const ended = this.scheduleRule;
      this.scheduleRule = rule?.name ?? null;
      if (f.source !== 'pin' && f.source !== 'fleet pin' && f.profile !== this.p.optimizer.profile) {
        const reason = rule ? `schedule: rule "${rule.name}" (${rule.schedule}, ${rule.timezone ?? 'UTC'}) began` : `schedule: rule "${ended}" ended`;
        this.p.store.journalChange(this.p.optimizer.profile, f.profile, { time: now, who: 'schedule', reason });
      }
    }
    if (f.profile !== this.p.optimizer.profile) {
      const from = this.p.optimizer.profile;
      this.p.log.info({ profile: f.profile, previous: from, profile_source: f.source }, `profile ${f.profile} in force (${f.source}), was ${from}`);
      this.p.optimizer.setProfile(f.profile);
      // Who and why: the journal entry that made it, when the latest one leads to this profile.
      const entry = this.p.store.journal({ limit: 1 })[0];
      const by = entry && entry.to === f.profile ? { who: entry.who, reason: entry.reason } : { who: f.source, reason: f.note ?? `${f.source} in force` };
      this.raise('profile_change', { from, to: f.profile, source: f.source, ...by }, now);
    }
    if (f.note) this.p.log.warn({ profile: f.profile }, `${f.note}: using ${f.profile} (${f.source})`);
    this.fleet?.profileInForce(f);
    return f;
  }

  /**
   * One interval: optimize and export the snapshot, keep the KPIs and the pipeline state. The new
   * identities are classified first, with the event loop free between slices, until `budget.deadline`
   * (Optimizer.prepare); null when `budget.signal` aborted meanwhile (the agent is stopping).
   */
  async handle(snapshot: Snapshot, budget: IntervalBudget): Promise<IntervalReport | null> {
    const { store, optimizer } = this.p;
    const classifyStart = performance.now();
    const prepared = await optimizer.prepare(snapshot, budget.deadline, budget.signal);
    if (prepared.aborted) return null;
    snapshot = prepared.snapshot;
    const classifyMs = performance.now() - classifyStart;
    this.dataTime = snapshot.timestamp;
    const now = this.clock();
    if (pinExpired(store.profileState(), now)) store.clearPin({ time: now, who: 'nrdot-plus', reason: 'pin expired' });
    this.fleetPinExpiry(now);
    this.apply();
    const usage = this.meter.read();
    const cadenceSeconds = this.p.source.kind === 'procfs' ? this.intervalSeconds : undefined;
    const extraSelf = selfUsageMetrics(usage);
    const k = optimizer.process(snapshot, { agent: usage, extraSelf, cadenceSeconds });
    const shadowsStart = performance.now();
    const shadows = this.p.shadows.run(snapshot, optimizer.profile, { cadenceSeconds, extraSelf: optimizer.lastExtraSelf });
    const storeStart = performance.now();
    const state = encodeState(optimizer.state);
    let controlStart = 0;
    this.storeHealth.run(() => {
      if (this.recordKpis(kpiRecord(k))) store.recordShadowKpis(shadows.kpis.map(kpiRecord));
      store.savePipelineState(state, { timestamp: snapshot.timestamp, source: this.p.stateSource });
      controlStart = performance.now();
      if (this.control.due(now)) this.runCheck(now, false);
    });
    this.fleet?.interval(k, shadows.kpis, this.p.otlp ? !this.p.otlp.sender.health().failing : null);
    const end = performance.now();
    if (controlStart === 0) controlStart = end; // the store failed: no check this interval
    if (prepared.skipped > 0) {
      this.p.log.warn(
        { skipped_processes: prepared.skipped, skipped_processes_total: optimizer.skippedTotal, budget_ms: Math.round(budget.budgetMs) },
        `the interval's time budget (${Math.round(budget.budgetMs)} ms) ran out while classifying new processes: ${prepared.skipped} left out of this interval (${optimizer.skippedTotal} in all), classified in the next`,
      );
    }
    return {
      fields: {
        profile: k.profile,
        datapoints_baseline: k.datapoints_baseline,
        datapoints_exported: k.datapoints_exported,
        reduction_datapoints: Math.round(k.reduction_datapoints * 1000) / 1000,
        cost_per_hour_baseline: k.cost_per_hour_baseline,
        cost_per_hour_optimized: k.cost_per_hour_optimized,
        coverage_critical: k.coverage_critical,
        agent_cpu_percent: k.agent_cpu_percent === null ? null : Math.round(k.agent_cpu_percent * 100) / 100,
        agent_rss_bytes: k.agent_rss_bytes,
        shadow_cpu_ms: this.p.shadows.profiles.length ? Math.round(shadows.cpuMs * 100) / 100 : null,
        skipped_processes: prepared.skipped,
      },
      summary: `; ${k.profile}: ${versusBaseline(k.datapoints_exported, k.datapoints_baseline, 'datapoints')}`,
      stagesMs: {
        classify: classifyMs,
        pipeline: optimizer.lastTimings.pipeline,
        export: optimizer.lastTimings.export,
        shadows: storeStart - shadowsStart,
        store: controlStart - storeStart,
        control: end - controlStart,
      },
    };
  }

  /**
   * Records the interval's KPIs unless a live snapshot is stamped from the future (the wall clock
   * stepped ahead: see data-clock.ts); says whether the interval belongs in the history.
   */
  private recordKpis(row: KpiRecord): boolean {
    if (this.p.source.kind !== 'procfs') {
      this.p.store.recordKpis(row);
      return true;
    }
    const v = this.dataClock.check(row.time);
    const { log } = this.p;
    if (!v.keep) {
      if (v.first) {
        log.warn(
          { clock_ahead_s: Math.round(v.ahead) },
          `the wall clock is ${describeStep(v.ahead)} ahead of the time that passed since the previous interval (a clock step?): intervals stamped so far ahead are exported but not kept in the KPI history, and nothing is pruned because of it; if the clock stays ahead ${describeStep(ACCEPT_AFTER_SECONDS)}, it is taken as the time`,
        );
      }
      return false;
    }
    if (v.accepted) log.warn({ clock_ahead_s: Math.round(v.accepted.ahead) }, `the wall clock stayed ${describeStep(v.accepted.ahead)} ahead for ${describeStep(ACCEPT_AFTER_SECONDS)}: taken as the time; the KPI history ages by the time that passes, not by the step`);
    else if (v.resumed) log.info({ intervals_not_kept: this.dataClock.refused }, `the wall clock is back in step; KPI history resumed`);
    this.p.store.recordKpis(row, v.elapsed);
    return true;
  }

  /** Serves the API and /metrics. */
  async listen(address: string, token: string): Promise<Listener> {
    this.listener = await startListener(address, { metrics: () => this.p.optimizer.prometheusText + this.healthMetrics(), routes: apiRoutes(this), token, redact: (text) => this.p.redactor.scrub(text) });
    return this.listener;
  }

  /** Each exporter's and the store's health, for /metrics only (never in the billed OTLP export). */
  private healthMetrics(): string {
    const { otlp, file } = this.p;
    const exporters = [
      ...(otlp ? [{ exporter: 'otlp', failing: otlp.sender.health().failing, intervalsFailed: otlp.sender.intervalsFailed }] : []),
      ...(file ? [{ exporter: 'file', failing: file.health.failing, intervalsFailed: file.health.intervalsFailed }] : []),
    ];
    return renderHealth(exporters, { failing: this.storeHealth.failing, intervalsFailed: this.storeHealth.intervalsFailed });
  }

  /** Registers in the data directory (agent.json), for nrdot-plus-ctl. */
  register(): void {
    writeAgentInfo(this.p.dataDir, { pid: process.pid, address: this.listener!.address, version: VERSION, started_at: this.startedAt.toISOString(), data_dir: this.p.dataDir });
  }

  /** Reloads on changes of the configuration file (editors replace files: the directory is watched). */
  watchConfig(): void {
    const path = this.p.configLocation.path;
    const dir = dirname(path);
    if (!existsSync(dir)) return;
    try {
      // Any entry of the directory: a file reached through a swapped symlink (a Kubernetes ConfigMap's
      // ..data) changes under another name. The content decides whether it changed.
      this.watcher = watch(dir, () => {
        if (this.reloadTimer) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadTimer = null;
          if (this.readConfigText() !== this.configText) {
            this.tryReload({ who: 'file watch', reason: `${path} changed` });
          } else if (this.reloads.last_error !== null) {
            this.reloads.last_error = null; // back to the configuration in force
            this.p.log.info({ config: path }, `${path} is back to the configuration in force`);
          }
        }, 300);
      });
      this.watcher.on('error', (err) => {
        this.watcher?.close();
        this.p.log.warn({ config: path }, `stopped watching ${dir} (${err.message}); reload with SIGHUP or nrdot-plus-ctl config reload`);
      });
    } catch (err) {
      this.p.log.warn({ config: path }, `cannot watch ${dir} for configuration changes (${(err as Error).message}); reload with SIGHUP or nrdot-plus-ctl config reload`);
    }
  }

  /**
   * A reload on SIGHUP, coalesced: at most one waits, and reloads follow each other at least
   * SIGHUP_RELOAD_GAP_MS apart, so a storm of signals reloads about once a second, the last time
   * after the last signal, reading the file as it is then.
   */
  requestReload(by: Actor): void {
    if (this.sighupTimer) return;
    const wait = Math.max(0, this.lastSighupReload + SIGHUP_RELOAD_GAP_MS - performance.now());
    this.sighupTimer = setTimeout(() => {
      this.sighupTimer = null;
      this.lastSighupReload = performance.now();
      this.tryReload(by);
    }, wait);
  }

  /** A reload that only logs its failure (SIGHUP, file watch). */
  tryReload(by: Actor): void {
    try {
      this.reload(by);
    } catch {
      // logged by reload()
    }
  }

  /** Stops everything once (a second signal waits for the first stop). */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.watcher?.close();
    await this.fleet?.stop();
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    if (this.sighupTimer) clearTimeout(this.sighupTimer);
    await this.collector?.stop();
    await Promise.all([this.listener?.close(), this.p.otlp?.sender.stop(), this.p.webhooks.stop()]);
    this.p.otlp?.queue.close();
    removeAgentInfo(this.p.dataDir);
    this.p.store.close();
    this.p.unlock();
  }

  /** A fingerprint of the configuration file, to tell a change (one too large to be read: its size and time). */
  private readConfigText(): string | null {
    const path = this.p.configLocation.path;
    try {
      return createHash('sha256').update(readConfigFile(path)).digest('hex');
    } catch (err) {
      if (!(err instanceof ConfigError)) return null;
      try {
        const st = statSync(path); // too large to read: its size and time tell a change; the reload says why
        return `${st.size} bytes at ${st.mtimeMs}`;
      } catch {
        return null;
      }
    }
  }

  // ---- DaemonApi ----

  reload(by: Actor): unknown {
    const { log, configLocation } = this.p;
    let loaded;
    try {
      // A file that was in force and is gone is a mistake to report, not a return to the defaults.
      if (this.p.configFile !== null && !existsSync(this.p.configFile)) throw new ConfigError(`${this.p.configFile}: the file is gone`);
      loaded = loadConfigAt(configLocation, process.env, fleetFragments(this.p.fleetLayer));
    } catch (err) {
      // Whatever the loading throws: a reload that fails is never silent.
      const message = err instanceof ConfigError ? err.message : `${configLocation.path}: ${(err as Error).message}`;
      this.reloads.failed++;
      this.reloads.last_error = message;
      log.error({ config: configLocation.path, by: by.who }, `configuration not reloaded, the previous one stays in force: ${message}`);
      throw new ApiError(422, `configuration not reloaded, the previous one stays in force: ${message}`);
    }
    const result = this.adopt(loaded, by, `configuration reloaded from ${loaded.file ?? 'embedded defaults'}`);
    this.reloads.ok++;
    this.reloads.last_error = null;
    return { reloaded: true, file: loaded.file, ...result };
  }

  /**
   * A fleet layer from the hub, through the same path as a reload: the file and the fragments are
   * validated together (a ConfigError naming the fragment, and nothing changes, when they do not
   * validate). Returns the settings that take effect at the next start.
   */
  applyFleetLayer(layer: FleetLayer, by: Actor): { changed: string[]; restart_needed: string[] } {
    const loaded = loadConfigAt(this.p.configLocation, process.env, fleetFragments(layer));
    const before = this.p.fleetLayer.directives.pin;
    const after = layer.directives.pin;
    const now = this.clock();
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      // Journaled before the switch, so that apply() names the fleet as who changed the profile.
      const from = this.inForce(now).profile;
      const to = profileInForce(this.p.store.profileState(), loaded.config, now, this.control.guard, after).profile;
      const reason = after ? `fleet pin ${after.profile} by ${after.by}${after.reason ? `: ${after.reason}` : ''}${after.until !== null ? ` (until ${new Date(after.until * 1000).toISOString()})` : ''}` : `fleet pin ${before!.profile} removed`;
      this.p.store.journalChange(from, to, { time: now, who: 'fleet', reason });
      this.fleetPinExpired = null;
    }
    this.p.fleetLayer = layer;
    return this.adopt(loaded, by, `fleet configuration applied (${layer.fragments.length} fragments)`);
  }

  /** Journals once that the fleet pin's time is up (profileInForce already ignores it). */
  private fleetPinExpiry(now: number): void {
    const pin = this.p.fleetLayer.directives.pin;
    if (!pin || pin.until === null || pin.until > now) return;
    const key = JSON.stringify(pin);
    if (this.fleetPinExpired === key) return;
    this.fleetPinExpired = key;
    const to = profileInForce(this.p.store.profileState(), this.p.config, now, this.control.guard, null).profile;
    this.p.store.journalChange(this.p.optimizer.profile, to, { time: now, who: 'fleet', reason: `fleet pin ${pin.profile} by ${pin.by} expired` });
  }

  /** Puts a loaded configuration in force (a reload, a fleet layer); what needs a restart waits for it. */
  private adopt(loaded: LoadedConfig, by: Actor, what: string): { changed: string[]; restart_needed: string[] } {
    const { log } = this.p;
    const config = loaded.config;
    if (this.p.intervalFlag !== undefined) config.cost_model.collection_interval_seconds = this.p.intervalFlag;
    const before = this.p.config as unknown as Record<string, unknown>;
    const after = config as unknown as Record<string, unknown>;
    // What needs a restart stays as it runs (so that status and config show tell the truth).
    const restart = RESTART_SECTIONS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (config.cost_model.collection_interval_seconds !== this.intervalSeconds) restart.push('cost_model.collection_interval_seconds');
    config.exporters = this.p.config.exporters;
    config.server = this.p.config.server;
    config.fleet = this.p.config.fleet;
    config.cost_model.collection_interval_seconds = this.intervalSeconds;
    const changed = Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    this.pendingRestart = restart;
    this.p.config = config;
    this.p.configFile = loaded.file;
    this.p.env = loaded.env;
    this.configText = this.readConfigText();
    this.p.redactor.addConfig(config, process.env);
    this.control.setConfig(config, this.clock());
    this.p.webhooks.setWebhooks(config.webhooks);
    // The profile stays until apply() switches it, so that a change the reload brings (a new time
    // rule, a removed profile) is journaled and sent like any other.
    const current = this.p.optimizer.profile;
    this.p.optimizer.setConfig(config, Object.hasOwn(config.profiles, current) ? current : this.inForce().profile);
    this.p.shadows.setConfig(config, config.advanced.shadow_profiles);
    this.apply();
    this.fleet?.configChanged();
    const note = restart.length ? `; ${restart.join(', ')} take effect at the next start` : '';
    log.info(
      { config: loaded.file ?? 'embedded defaults', by: by.who, changed, restart_needed: restart, fleet_fragments: this.p.fleetLayer.fragments.map((f) => f.name) },
      `${what} (${by.who}): ${changed.length ? `changed ${changed.join(', ')}` : 'no change'}${note}`,
    );
    return { changed, restart_needed: restart };
  }

  status(): unknown {
    const f = this.described();
    const k = this.p.optimizer.lastKpis;
    const otlp = this.p.otlp;
    const usage = this.meter.last;
    return {
      version: VERSION,
      pid: process.pid,
      started_at: this.startedAt.toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      data_dir: this.p.dataDir,
      config_file: this.p.configFile,
      source: { kind: this.p.source.kind, location: this.p.source.location, pace: this.p.source.pace, finished: this.replayFinished },
      interval_s: this.intervalSeconds,
      intervals: this.collector?.intervals ?? 0,
      skipped_intervals: this.collector?.skipped ?? 0,
      skipped_processes: this.p.optimizer.skippedTotal,
      future_intervals_not_kept: this.dataClock.refused,
      profile: { name: f.profile, source: f.source, pin: f.pin, fleet_pin: f.fleet_pin, rule: f.rule, note: f.note, last_change: f.last_change },
      control: { running: this.control.running, stopped: this.control.stopped, guard: this.control.guard },
      kpis: k,
      agent: { cpu_percent: usage.cpuPercent, rss_bytes: usage.rssBytes, peak_rss_bytes: usage.peakRssBytes },
      shadows: this.p.shadows.stats(),
      export: {
        otlp: otlp
          ? {
              enabled: true,
              endpoint: otlp.sender.endpoint,
              queue_batches: otlp.queue.depth,
              queue_bytes: otlp.queue.bytes,
              delivered: otlp.sender.stats.delivered,
              failed: otlp.sender.stats.failed,
              retries: otlp.sender.stats.retries,
              dropped: otlp.queue.dropped,
              lost: otlp.queue.lost,
              intervals_failed: otlp.sender.intervalsFailed,
              ...health(otlp),
            }
          : { enabled: false },
        file: this.p.file ? { path: this.p.file.path, ...this.p.file.health.state() } : null,
        prometheus: this.listener ? `http://${this.listener.address}/metrics` : null,
        webhooks: { events: Object.entries(this.p.config.webhooks).filter(([, w]) => w?.url).map(([e]) => e), ...this.p.webhooks.stats },
      },
      store: { path: this.p.store.path, ...this.storeHealth.state() },
      reloads: { ...this.reloads, pending_restart: this.pendingRestart },
      fleet: this.fleet?.status() ?? { enabled: false },
    };
  }

  kpis(): unknown {
    return { kpis: this.p.optimizer.lastKpis ?? this.p.store.latestKpis() };
  }

  kpiHistory(q: HistoryQuery): unknown {
    // Raw rows cost ~8 us each to read, synchronously: without a limit, the newest day at a 60 s interval.
    const limit = q.limit ?? (q.resolution === 'raw' ? 1440 : undefined);
    return { resolution: q.resolution, rows: this.p.store.kpiHistory({ ...q, limit }) };
  }

  processes(q: ProcessQuery): unknown {
    let list = this.decisions();
    if (q.action) list = list.filter((d) => d.action === q.action);
    if (q.tier) list = list.filter((d) => d.tier === q.tier);
    list = [...list].sort((a, b) => b.composite - a.composite || a.pid - b.pid);
    if (q.limit !== undefined) list = list.slice(0, Math.max(0, q.limit));
    return { timestamp: this.p.optimizer.lastKpis?.timestamp ?? null, profile: this.p.optimizer.profile, total: this.decisions().length, processes: list };
  }

  explain(target: string): unknown {
    const pid = /^\d+$/.test(target) ? Number(target) : null;
    const found = this.decisions().filter((d) => (pid !== null ? d.pid === pid : d.name === target));
    if (this.p.optimizer.lastKpis === null) throw new ApiError(503, 'no interval collected yet; try again after the first one');
    if (found.length === 0) throw new ApiError(404, `no process ${pid !== null ? `with pid ${pid}` : `named "${target}"`} in the latest interval`);
    return { timestamp: this.p.optimizer.lastKpis.timestamp, profile: this.p.optimizer.profile, decisions: found };
  }

  profiles(): unknown {
    const f = this.inForce();
    return {
      in_force: f.profile,
      profiles: Object.entries(this.p.config.profiles).map(([name, p]) => ({
        name,
        description: p.description,
        in_force: name === f.profile,
        configuration_default: name === this.p.config.state.active_profile,
      })),
    };
  }

  profile(): unknown {
    return { ...this.described(), stored: this.p.store.profileState().active };
  }

  compareProfiles(q: CompareWindow): unknown {
    // A window back from the latest data: in a replay, the recording's time.
    const now = this.clock();
    const window = { since: q.since ?? now - (q.ago ?? 86_400), until: q.until ?? now };
    return compareProfiles(this.p.store, this.p.config, window, this.inForce(now).profile, this.p.shadows.profiles);
  }

  /** The profile in force at `now` were the stored state `state` (to journal what a change does). */
  private inForceWith(state: ProfileState, now: number): ProfileInForce {
    return profileInForce(state, this.p.config, now, this.control.guard, this.p.fleetLayer.directives.pin);
  }

  setProfile(profile: string, by: Actor): unknown {
    this.known(profile);
    const now = Date.now() / 1000;
    const before = this.inForce(now);
    const after = this.inForceWith({ ...this.p.store.profileState(), active: profile }, now);
    // The journal says what changed in force: under a pin or a time rule, nothing yet.
    const reason = after.profile === profile ? by.reason : `${by.reason}; stored profile set to ${profile}; ${after.profile} stays in force under ${overrider(after)}`;
    const entry = this.p.store.setActiveProfile(profile, { time: now, who: by.who, reason, inForce: { from: before.profile, to: after.profile } });
    this.apply();
    const f = this.described();
    const masked = f.profile === profile ? null : f.source === 'pin' ? 'unpinned' : f.source === 'fleet pin' ? 'the fleet pin is removed' : f.source === 'schedule' ? `schedule rule "${f.rule!.name}" ends` : null;
    const pinned = masked ? `${f.source === 'pin' ? 'pinned to' : f.source === 'fleet pin' ? 'the fleet pins' : 'the schedule applies'} ${f.profile}: ${profile} takes effect when ${masked}` : null;
    return { ...f, changed: entry !== null, note: pinned ?? f.note };
  }

  pin(profile: string, forSeconds: number | null, by: Actor): unknown {
    this.known(profile);
    const now = Date.now() / 1000;
    const until = forSeconds === null ? null : now + forSeconds;
    this.p.store.setPin(profile, until, { time: now, ...by, inForce: { from: this.inForce(now).profile, to: profile } });
    this.apply();
    return this.described();
  }

  unpin(by: Actor): unknown {
    const now = Date.now() / 1000;
    const state = this.p.store.profileState();
    const after = this.inForceWith({ pin: null, active: state.active ?? state.pin?.profile ?? null }, now);
    const reason = after.source === 'schedule' || after.source === 'emergency guard' || after.source === 'fleet pin' ? `${by.reason}; ${after.profile} in force under ${overrider(after)}` : by.reason;
    const entry = this.p.store.clearPin({ time: now, who: by.who, reason, inForce: { from: this.inForce(now).profile, to: after.profile } });
    this.apply();
    return { ...this.described(), unpinned: entry !== null };
  }

  journal(q: { since?: number; limit?: number }): unknown {
    return { entries: this.p.store.journal({ since: q.since, limit: q.limit ?? 100 }) };
  }

  config(): unknown {
    return { file: this.p.configFile, fleet_fragments: this.p.fleetLayer.fragments.map((f) => f.name), env: this.p.env.map((e) => e.name), pending_restart: this.pendingRestart, config: redactConfig(this.p.config) };
  }

  controlStatus(): unknown {
    const now = this.clock();
    return { ...(this.control.status(now) as object), profile: this.described() };
  }

  controlStart(by: Actor): unknown {
    const now = this.clock();
    const started = this.control.start(now, by);
    return { ...(this.controlStatus() as object), changed: started };
  }

  controlStop(by: Actor): unknown {
    const now = this.clock();
    const stopped = this.control.stop(now, by);
    return { ...(this.controlStatus() as object), changed: stopped };
  }

  controlCheck(by: Actor): unknown {
    if (this.p.store.latestKpis() === null) throw new ApiError(503, 'no interval collected yet; try again after the first one');
    const c = this.runCheck(this.clock(), true);
    this.p.log.info({ by: by.who }, `control loop: check forced by ${by.who}`);
    const check = { time: c.time, outcome: c.outcome, rule: c.rule, from: c.from, to: c.to, changed: c.changed, reason: c.reason, inputs: c.inputs && { ...c.inputs, budget: c.budget } };
    return { check, profile: this.described() };
  }

  controlHistory(q: { since?: number; limit?: number; changes?: boolean }): unknown {
    return { checks: this.control.history({ since: q.since, limit: q.limit ?? 100, changes: q.changes }) };
  }

  async rollback(by: Actor): Promise<unknown> {
    const { store, config, configFile, dataDir, log, redactor } = this.p;
    const result = await rollback(
      {
        store,
        config,
        configFile,
        dataDir,
        log,
        redactor,
        stopLoop: (time, stop) => this.control.stop(time, stop, true),
        raise: (details, time) => this.raise('rollback', details, time),
        pinned: () => this.apply(),
        status: () => this.status(),
      },
      by,
    );
    return { ...result, profile: this.described() };
  }

  private decisions(): Decision[] {
    return this.p.optimizer.lastDecisions;
  }

  private known(profile: string): void {
    if (!Object.hasOwn(this.p.config.profiles, profile)) {
      throw new ApiError(400, unknownProfile(profile, Object.keys(this.p.config.profiles)));
    }
  }
}

/** What keeps a profile in force over the stored one: "schedule rule "nights"", "a pin by ops", "the emergency guard". */
function overrider(f: ProfileInForce): string {
  if (f.source === 'schedule') return `schedule rule "${f.rule!.name}"`;
  if (f.source === 'pin') return `a pin by ${f.pin!.who}`;
  if (f.source === 'fleet pin') return `a fleet pin by ${f.fleetPin!.by}`;
  return f.source === 'emergency guard' ? 'the emergency guard' : f.source;
}

function health(otlp: OtlpExport): Record<string, unknown> {
  const h = otlp.sender.health();
  return {
    failing: h.failing,
    failing_since: h.failingSince === null ? null : new Date(h.failingSince).toISOString(),
    last_error: h.lastError,
    last_delivered: h.lastDelivered === null ? null : new Date(h.lastDelivered).toISOString(),
  };
}
