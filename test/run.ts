/** Runs the project's executables as a user would, from the checkout. */
import { spawn, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT = REPO + 'bin/nrdot-plus';
export const CTL = REPO + 'bin/nrdot-plus-ctl';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment with a data directory of its own unless it names one: the agent keeps its state
 * store there, and a test must neither see another's profile nor leave state in the machine's.
 * World-writable, for the tests that run the executables as nobody.
 */
export function withDataDir(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.NRDOT_DATA_DIR) return env;
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-data-'));
  chmodSync(dir, 0o777);
  return { ...env, NRDOT_DATA_DIR: dir };
}

export function run(file: string, args: string[], options: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options, env: withDataDir(options.env ?? process.env) });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The JSON log lines of the agent (pino on stderr). */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A free TCP port on loopback (for servers a test starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
