/**
 * The agent daemon as `bench/agent.ts` runs it: a child `bin/nrdot-plus` whose JSON log lines are
 * awaited and whose CPU and memory are read from outside (/proc/PID/stat and status) at every
 * interval line, and the loopback OTLP receiver it sends to.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isLive, killAndWait, track } from './children.js';
import type { ReceiverStats } from './otlp-receiver.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const AGENT = join(resolve(HERE, '../..'), 'bin/nrdot-plus');
const HUB = join(resolve(HERE, '../..'), 'bin/nrdot-plus-hub');
const SETPRIV = '/usr/bin/setpriv';

// ---- Reading the agent from outside.

/** utime + stime of a whole process (every thread), in clock ticks: /proc/PID/stat fields 14, 15. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident memory now (VmRSS) and its high-water mark (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export interface Sample {
  atMs: number;
  ticks: number;
  rss: number;
  /** VmHWM so far. */
  hwm: number;
}

export function sample(pid: number): Sample {
  return { atMs: performance.now(), ticks: cpuTicks(pid), ...memory(pid) };
}

export type LogLine = Record<string, unknown>;

export const isInterval = (l: LogLine): boolean => typeof l.processes === 'number' && typeof l.read_ms === 'number';

/** The agent as a child: its JSON log lines, and a sample of its CPU and memory at every interval line. */
export class Agent {
  readonly lines: LogLine[] = [];
  readonly intervals: Array<{ line: LogLine; sample: Sample }> = [];
  finished: Sample | null = null;
  private tail = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stderr! }).on('line', (text) => {
      this.tail = (this.tail + text + '\n').slice(-4000);
      let line: LogLine | null = null;
      try {
        line = text.startsWith('{') ? (JSON.parse(text) as LogLine) : null;
      } catch {
        // not a log line
      }
      if (line) {
        this.lines.push(line);
        // Sampled as the line arrives: the window's ends are the ends of intervals.
        if (isInterval(line)) this.intervals.push({ line, sample: this.sampleOrNull() ?? { atMs: performance.now(), ticks: NaN, rss: NaN, hwm: NaN } });
        if (/replay finished/.test(String(line.msg))) this.finished = this.sampleOrNull();
      }
      for (const w of this.waiters) w();
    });
    child.once('exit', () => {
      for (const w of this.waiters) w();
    });
  }

  static start(args: string[], env: NodeJS.ProcessEnv, nodeFlags: string[]): Agent {
    // setpriv execs node (same pid) with a parent-death SIGKILL: a benchmark killed with SIGKILL
    // leaves no agent behind.
    const argv = [process.execPath, ...nodeFlags, AGENT, ...args];
    const [cmd, rest] = hasSetpriv() ? [SETPRIV, ['--pdeathsig', 'KILL', ...argv]] : [argv[0]!, argv.slice(1)];
    return new Agent(track(spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'pipe'], env }), 'nrdot-plus'));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private sampleOrNull(): Sample | null {
    try {
      return sample(this.pid);
    } catch {
      return null; // exited
    }
  }

  /** Resolves with probe()'s first truthy value; rejects when the agent exits or the time is up. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; agent's stderr ends:\n${this.tail}`)), timeoutMs);
      const finish = (err: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve(value!);
      };
      const check = (): void => {
        const value = probe();
        if (value) finish(null, value);
        else if (!this.running) finish(new Error(`the agent exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; its stderr ends:\n${this.tail}`));
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Warnings and errors it logged (pino levels 40 and up). */
  problems(): string[] {
    return this.lines.filter((l) => typeof l.level === 'number' && l.level >= 40).map((l) => String(l.msg));
  }

  /** SIGTERM, 15 s to stop, then SIGKILL. */
  async stop(): Promise<void> {
    if (!this.running || !isLive(this.pid)) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => void killAndWait([this.child]), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

let setprivChecked: boolean | null = null;
export function hasSetpriv(): boolean {
  if (setprivChecked === null) {
    try {
      execFileSync(SETPRIV, ['--version'], { stdio: 'ignore' });
      setprivChecked = true;
    } catch {
      setprivChecked = false;
    }
  }
  return setprivChecked;
}

/**
 * The agent's environment: its own data directory, no configuration file, OTLP to the receiver, no
 * proxy; with `opamp`, a member of that fleet hub.
 */
export function agentEnv(dataDir: string, endpoint: string, opamp: string | null = null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of the caller's agent settings (a license key would send to New Relic instead).
    if (!/^(NRDOT_|OTEL_|NEW_RELIC_)/.test(k)) env[k] = v;
  }
  Object.assign(env, {
    NRDOT_DATA_DIR: dataDir,
    NRDOT_HTTP_ADDR: '127.0.0.1:0',
    NRDOT_CONFIG: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    ...(opamp ? { NRDOT_OPAMP_ENDPOINT: opamp, NRDOT_FLEET_LABELS: 'role=bench' } : {}),
    HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '',
  });
  return env;
}

export class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
    readonly endpoint: string,
  ) {}

  static async start(): Promise<Receiver> {
    const child = track(fork(join(HERE, 'otlp-receiver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), 'OTLP receiver');
    const [port] = (await once(child, 'message')) as [number];
    return new Receiver(child, `http://127.0.0.1:${port}`);
  }

  async stats(): Promise<ReceiverStats> {
    const reply = once(this.child, 'message');
    this.child.send('stats');
    return (await reply)[0] as ReceiverStats;
  }
}

/** A fleet hub for the agent to join (`--hub`): bin/nrdot-plus-hub on loopback, its own data directory, default heartbeat. */
export class Hub {
  private constructor(
    readonly child: ChildProcess,
    /** The OpAMP endpoint, for NRDOT_OPAMP_ENDPOINT. */
    readonly endpoint: string,
  ) {}

  static async start(dataDir: string): Promise<Hub> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NRDOT_')) env[k] = v;
    Object.assign(env, { NRDOT_HUB_DATA_DIR: dataDir, NRDOT_LOG_FORMAT: 'json', HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '' });
    const child = track(spawn(process.execPath, [HUB, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'], env }), 'nrdot-plus-hub');
    const lines = createInterface({ input: child.stderr! });
    for await (const text of lines) {
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(text)?.[1];
      if (url) {
        lines.on('line', () => undefined); // keep draining its log
        return new Hub(child, `${url}/v1/opamp`);
      }
    }
    throw new Error(`nrdot-plus-hub exited (${child.exitCode}) before it listened`);
  }

  stop(): Promise<void> {
    return killAndWait([this.child]);
  }
}
