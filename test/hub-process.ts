/** The hub as a long-running child process: its JSON log lines and stdout, awaited as events. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NO_PROXY_ENV, type LogLine } from './agent-process.js';
import { REPO } from './run.js';

export const HUB = REPO + 'bin/nrdot-plus-hub';

export function hubDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'nrdot-hub-'));
}

export class HubProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  stdout = '';
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr += `${line}\n`;
      if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
      this.wake();
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.wake();
    });
    child.once('exit', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** `nrdot-plus-hub` on a free loopback port with this data directory (and the environment on top of this one). */
  static start(dataDir: string, env: Record<string, string | undefined> = {}, args: string[] = []): HubProcess {
    const child = spawn(process.execPath, [HUB, '--listen', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...NO_PROXY_ENV, NRDOT_HUB_DATA_DIR: dataDir, NRDOT_HUB_TOKEN: '', NRDOT_LOG_FORMAT: 'json', ...env },
    });
    return new HubProcess(child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when `check` returns a value; rejects if the hub exits or timeoutMs passes first. */
  waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr}\nstdout:\n${this.stdout}`)), timeoutMs);
      const finish = (err: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.waiters.delete(poll);
        if (err) reject(err);
        else resolve(value as T);
      };
      const poll = (): void => {
        const value = check();
        if (value !== undefined) finish(null, value);
        else if (!this.running) finish(new Error(`the hub exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr:\n${this.stderr}`));
      };
      this.waiters.add(poll);
      poll();
    });
  }

  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return this.waitFor(() => this.lines.find(match), timeoutMs, what);
  }

  /** The hub's base URL, once it listens. */
  async url(timeoutMs = 20_000): Promise<string> {
    const line = await this.waitForLog((l) => typeof l.listen === 'string', timeoutMs, 'the listening line');
    return String(line.url);
  }

  /** SIGTERM and the exit code; a hub still running 15 s later is killed and the test fails. */
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
      throw new Error(`the hub did not stop within 15 s of SIGTERM; stderr:\n${this.stderr}`);
    }
    return outcome[0] as number | null;
  }
}
