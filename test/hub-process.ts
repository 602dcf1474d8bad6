/** The hub as a long-running child process: its JSON log lines and stdout, awaited as events. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, NO_PROXY_ENV } from './agent-process.js';
import { REPO } from './run.js';

export const HUB = REPO + 'bin/nrdot-plus-hub';

export function hubDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'nrdot-hub-'));
}

export class HubProcess extends DaemonProcess {
  /** `nrdot-plus-hub` on a free loopback port with this data directory (and the environment on top of this one). */
  static start(dataDir: string, env: Record<string, string | undefined> = {}, args: string[] = []): HubProcess {
    const child = spawn(process.execPath, [HUB, '--listen', '127.0.0.1:0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...NO_PROXY_ENV, NRDOT_HUB_DATA_DIR: dataDir, NRDOT_HUB_TOKEN: '', NRDOT_LOG_FORMAT: 'json', ...env },
    });
    return new HubProcess(child, 'the hub');
  }

  /** The hub's base URL, once it listens. */
  async url(timeoutMs = 20_000): Promise<string> {
    const line = await this.waitForLog((l) => typeof l.listen === 'string', timeoutMs, 'the listening line');
    return String(line.url);
  }
}
