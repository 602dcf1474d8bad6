/**
 * A fleet of real processes for the end-to-end tests (test/fleet-*.test.ts): the hub executable
 * (test/hub-process.ts) on a free loopback port with a 1 s heartbeat, killed with -9 and restarted on
 * the same port, data directory and database; real agents (test/agent-process.ts) pointed at it with
 * labels, on a fake procfs so that their figures hold still; the real `nrdot-plus-ctl fleet` and
 * `nrdot-plus-ctl status` commands. Everything it starts is killed (by pid) when the test file ends.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { AgentProcess, NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { buildProcfs } from './fakeproc.js';
import { HubProcess } from './hub-process.js';
import { CTL, freePort, run, type RunResult } from './run.js';

/** The admin token every hub here runs with (NRDOT_HUB_TOKEN), and ctl sends. */
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
/** Offered to agents: the shortest the hub allows (src/hub/config.ts HEARTBEAT_BOUNDS). */
export const HEARTBEAT_S = 1;

const root = mkdtempSync(join(tmpdir(), 'nrdot-fleet-e2e-'));
const hubs = new Set<FleetHub>();
const agents = new Set<FleetAgent>();
after(async () => {
  await Promise.all([...agents].map((a) => a.kill9()));
  await Promise.all([...hubs].map((h) => h.kill9()));
  rmSync(root, { recursive: true, force: true });
});

let dirs = 0;
export function tempDir(what: string): string {
  return mkdtempSync(join(root, `${what}-${++dirs}-`));
}

/** Polls `get` until `ok` holds; fails naming `what` and the last value after timeoutMs. */
export async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)?.slice(0, 4000)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

// ---------------------------------------------------------------- the hub

export interface HubOptions {
  dataDir?: string;
  /** postgres://...; SQLite in the data dir when absent. */
  database?: string;
  /** Listen on this port (a restart keeps its port, so that agents find it again). */
  port?: number;
  env?: Record<string, string>;
}

export class FleetHub {
  private constructor(
    readonly proc: HubProcess,
    readonly options: Required<Pick<HubOptions, 'dataDir' | 'port'>> & HubOptions,
    readonly url: string,
  ) {}

  static async start(options: HubOptions = {}): Promise<FleetHub> {
    const dataDir = options.dataDir ?? tempDir('hub');
    const port = options.port ?? (await freePort());
    const env: Record<string, string> = {
      NRDOT_HUB_TOKEN: ADMIN_TOKEN,
      NRDOT_HUB_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
      ...(options.database ? { NRDOT_HUB_DATABASE: options.database } : {}),
      ...options.env,
    };
    const proc = HubProcess.start(dataDir, env, ['--listen', `127.0.0.1:${port}`]);
    const hub = new FleetHub(proc, { ...options, dataDir, port }, `http://127.0.0.1:${port}`);
    hubs.add(hub);
    assert.equal(await proc.url(30_000), hub.url);
    return hub;
  }

  /** Where agents send OpAMP. */
  get opamp(): string {
    return `${this.url}/v1/opamp`;
  }

  get running(): boolean {
    return this.proc.running;
  }

  async kill9(): Promise<void> {
    if (!this.proc.running) return;
    const exited = once(this.proc.child, 'exit');
    this.proc.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    hubs.delete(this);
  }

  /** A new process on the same port, data directory and database. */
  restart(): Promise<FleetHub> {
    assert.ok(!this.proc.running, 'restart() after kill9() or stop()');
    hubs.delete(this);
    return FleetHub.start(this.options);
  }

  /** `nrdot-plus-ctl fleet ARGS` against this hub (or another base URL: a balancer). */
  ctl(args: string[], base = this.url): Promise<RunResult> {
    return fleetCtl(base, args);
  }

  /** `fleet ARGS --json`, which must succeed; its parsed output. */
  async json<T>(args: string[], base = this.url): Promise<T> {
    return fleetJson<T>(base, args);
  }

  /** The agents as `fleet agents --json` lists them. */
  agents(base = this.url): Promise<AgentView[]> {
    return fleetJson<AgentView[]>(base, ['agents']);
  }
}

export function fleetCtl(base: string, args: string[], token = ADMIN_TOKEN): Promise<RunResult> {
  return run(CTL, ['fleet', ...args], { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_HUB_URL: base, NRDOT_HUB_TOKEN: token, NO_COLOR: '1' } });
}

export async function fleetJson<T>(base: string, args: string[]): Promise<T> {
  const r = await fleetCtl(base, [...args, '--json']);
  assert.equal(r.code, 0, `fleet ${args.join(' ')} --json: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `fleet agents --json`, as far as these tests read it (src/hub/api/view.ts agentSummary). */
export interface AgentView {
  instance_uid: string;
  kind: string;
  labels: Record<string, string>;
  status: 'online' | 'offline';
  offline_since: string | null;
  last_seen: string;
  host: string | null;
  version: string | null;
  profile: string | null;
  profile_reason: string | null;
  config_status: string;
  config_error: string | null;
  configs: Array<{ name: string; version: number; priority: number }>;
  fleet_pin: { profile: string; until: string | null } | null;
  kpis: AgentKpisView | null;
  warnings: string[];
}

export interface AgentKpisView {
  time: string | null;
  profile: string | null;
  cost_per_hour_baseline: number | null;
  cost_per_hour_optimized: number | null;
  reduction: number | null;
  coverage_critical: number | null;
}

/** `fleet agent ID --json`: the summary and the rest. */
export interface AgentDetailView extends AgentView {
  description: { identifying: Record<string, unknown>; non_identifying: Record<string, unknown> } | null;
  effective_config: unknown;
  sequence_num: number;
}

export interface FleetStatusView {
  agents_total: number;
  agents_online: number;
  agents_offline: number;
  cost_per_hour_baseline: number;
  cost_per_hour_optimized: number;
  reduction: number | null;
  coverage_critical_min: number | null;
  profiles: Record<string, number>;
}

export interface JournalView {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  details: unknown;
}

// ---------------------------------------------------------------- agents

/** A fake procfs with a handful of steady processes: the agents' costs stay put from interval to interval. */
export function steadyProcfs(btime = 1_700_000_000): string {
  const procs = [
    { pid: 1, name: 'systemd', exe: '/usr/lib/systemd/systemd', cmdline: ['/sbin/init'] },
    { pid: 210, name: 'postgres', exe: '/usr/lib/postgresql/15/bin/postgres', cmdline: ['postgres', '-D', '/var/lib/postgresql'] },
    { pid: 211, name: 'nginx', exe: '/usr/sbin/nginx', cmdline: ['nginx: master process'] },
    { pid: 212, name: 'java', exe: '/usr/bin/java', cmdline: ['java', '-jar', 'app.jar'] },
    { pid: 213, name: 'redis-server', exe: '/usr/bin/redis-server', cmdline: ['redis-server'] },
    { pid: 214, name: 'sshd', exe: '/usr/sbin/sshd', cmdline: ['sshd'] },
  ];
  const dir = buildProcfs({ btime, processes: procs.map((p, i) => ({ ...p, utimeTicks: 100 * (i + 1), rssPages: 1000 * (i + 1) })) });
  return dir;
}

export interface AgentOptions {
  /** NRDOT_FLEET_LABELS, e.g. role=db,env=test */
  labels: string;
  /** OpAMP endpoint (a hub's, or a balancer's). */
  endpoint: string;
  dataDir?: string;
  /** The agent's own optimization.yaml (text); none: embedded defaults. */
  configText?: string;
  procfs?: string;
  env?: Record<string, string>;
  /** Wait for the first interval (default true). */
  waitFirstInterval?: boolean;
}

export class FleetAgent {
  private constructor(
    readonly proc: AgentProcess,
    readonly options: AgentOptions & { dataDir: string; procfs: string },
  ) {}

  static async start(options: AgentOptions): Promise<FleetAgent> {
    const dataDir = options.dataDir ?? tempDir('agent');
    const procfs = options.procfs ?? steadyProcfs();
    let config = '';
    if (options.configText !== undefined) {
      config = join(dataDir, 'optimization.yaml');
      writeFileSync(config, options.configText);
    }
    const proc = AgentProcess.start(['--interval', '1'], {
      NRDOT_DATA_DIR: dataDir,
      NRDOT_CONFIG: config,
      NRDOT_PROCFS: procfs,
      NRDOT_OPAMP_ENDPOINT: options.endpoint,
      NRDOT_FLEET_LABELS: options.labels,
      // A restarted hub is found again within a fraction of a second (tests only).
      NRDOT_TEST_OPAMP_BACKOFF_MS: '200',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      NEW_RELIC_LICENSE_KEY: '',
      ...options.env,
    });
    const agent = new FleetAgent(proc, { ...options, dataDir, procfs });
    agents.add(agent);
    if (options.waitFirstInterval !== false) await proc.waitForLog(isInterval, 20_000, 'the first interval');
    return agent;
  }

  get running(): boolean {
    return this.proc.running;
  }

  /** The same data directory, procfs and settings (plus `over`), as a new process. */
  restart(over: Partial<AgentOptions> = {}): Promise<FleetAgent> {
    assert.ok(!this.proc.running, 'restart() after kill9() or stop()');
    agents.delete(this);
    return FleetAgent.start({ ...this.options, ...over, dataDir: this.options.dataDir, procfs: this.options.procfs });
  }

  async kill9(): Promise<void> {
    await this.proc.kill9();
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    agents.delete(this);
  }

  /** `nrdot-plus-ctl ARGS` against this agent (its data directory). */
  ctl(args: string[]): Promise<RunResult> {
    return run(CTL, args, { env: { ...process.env, ...NO_PROXY_ENV, NRDOT_DATA_DIR: this.options.dataDir, NO_COLOR: '1' } });
  }

  /** `nrdot-plus-ctl status --json`. */
  async status(): Promise<AgentStatus> {
    const r = await this.ctl(['status', '--json']);
    assert.equal(r.code, 0, `status --json: exit ${r.code}\n${r.stderr}`);
    return JSON.parse(r.stdout) as AgentStatus;
  }

  /** GET /api/v1/status from the agent's own API: what `status --json` prints, in milliseconds rather than a process start. */
  async apiStatus(): Promise<AgentStatus> {
    const started = await this.proc.waitForLog((l) => typeof l.listen === 'string', 10_000, 'the listener');
    const res = await fetch(`http://${String(started.listen)}/api/v1/status`);
    assert.equal(res.status, 200);
    return (await res.json()) as AgentStatus;
  }

  /** `nrdot-plus-ctl config show --json`: the merged configuration in force. */
  async config(): Promise<{ control_loop: { target_reduction: number } } & Record<string, unknown>> {
    const r = await this.ctl(['config', 'show', '--json']);
    assert.equal(r.code, 0, `config show --json: exit ${r.code}\n${r.stderr}`);
    return JSON.parse(r.stdout) as never;
  }
}

/** `nrdot-plus-ctl status --json`, as far as these tests read it. */
export interface AgentStatus {
  intervals: number;
  profile: { name: string; source: string; fleet_pin: { profile: string; by: string } | null };
  kpis: { cost_per_hour_baseline: number; cost_per_hour_optimized: number; timestamp?: number } | null;
  fleet: {
    enabled: boolean;
    connected: boolean;
    instance_uid: string;
    last_error: string | null;
    remote_config: { status: string; error: string | null; fragments: string[] };
    fleet_pin: unknown;
  };
}
