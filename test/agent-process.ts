/** The agent as a long-running child process: its JSON log lines, awaited as events, and its /metrics. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { AGENT, withDataDir } from './run.js';

export type LogLine = Record<string, unknown>;

/** A machine's proxy settings would route the tests' loopback requests through its proxy. */
export const NO_PROXY_ENV = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '' };

/**
 * A daemon (the agent, the hub) as a long-running child: its JSON log lines on stderr, its stdout,
 * awaited as events; stopped with SIGTERM or killed.
 */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  /** Everything written to stderr, JSON or not. */
  stderr = '';
  /** Everything written to stdout (when it is piped). */
  stdout = '';
  private readonly waiters = new Set<() => void>();

  protected constructor(
    readonly child: ChildProcess,
    /** "the agent", "the hub": for messages. */
    private readonly what: string,
  ) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr += `${line}\n`;
      if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
      this.wake();
    });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.wake();
    });
    child.once('exit', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when `check` returns a value; rejects if the process exits or timeoutMs passes first. */
  waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log:\n${this.stderr}${this.stdout ? `\nstdout:\n${this.stdout}` : ''}`)), timeoutMs);
      const finish = (err: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        if (err) reject(err);
        else resolve(value as T);
      };
      const poll = (): void => {
        const value = check();
        if (value !== undefined) finish(null, value);
        else if (!this.running) finish(new Error(`${this.what} exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; log:\n${this.stderr}`));
      };
      this.waiters.add(poll);
      poll();
    });
  }

  /** Resolves with the first log line matching; rejects if the process exits or timeoutMs passes first. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return this.waitFor(() => this.lines.find(match), timeoutMs, what);
  }

  /** SIGTERM, and the exit code; a process that has not stopped 15 s later is killed and the test fails. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 15_000)));
    const outcome = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.child.kill('SIGKILL');
      throw new Error(`${this.what} did not stop within 15 s of SIGTERM; log:\n${this.stderr}`);
    }
    return outcome[0] as number | null;
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** The agent as a long-running child process, and its /metrics. */
export class AgentProcess extends DaemonProcess {
  /** Starts `nrdot-plus ARGS` with the given environment on top of this one (HTTP on an ephemeral port). */
  static start(args: string[], env: Record<string, string | undefined>): AgentProcess {
    const child = spawn(process.execPath, [AGENT, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: withDataDir({ ...process.env, ...NO_PROXY_ENV, NRDOT_HTTP_ADDR: '127.0.0.1:0', ...env }),
    });
    return new AgentProcess(child, 'the agent');
  }

  /** Log lines reporting a collected interval. */
  intervals(): number {
    return this.lines.filter((l) => typeof l.processes === 'number' && typeof l.read_ms === 'number').length;
  }

  /** The agent's /metrics exposition. */
  async metrics(): Promise<string> {
    const started = await this.waitForLog((l) => typeof l.listen === 'string', 10_000, 'the listener');
    return (await fetch(`http://${String(started.listen)}/metrics`)).text();
  }
}
