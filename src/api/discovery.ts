/**
 * How `nrdot-plus-ctl` finds the running daemon: the daemon writes `agent.json` (pid, address,
 * version) in its data directory while it runs, and keeps the API token in `api-token` there,
 * readable by its owner only (created at first start, kept across restarts).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const AGENT_FILE = 'agent.json';
export const TOKEN_FILE = 'api-token';

export interface AgentInfo {
  pid: number;
  /** `host:port` or `unix:/path`. */
  address: string;
  version: string;
  started_at: string;
  data_dir: string;
}

/** The token, created (0600) when there is none yet. Returns it and whether it was created. */
export function ensureToken(dataDir: string): { token: string; path: string; created: boolean } {
  const path = join(dataDir, TOKEN_FILE);
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 32) {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600); // someone loosened it
      return { token, path, created: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, token + '\n');
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return { token, path, created: true };
}

export function writeAgentInfo(dataDir: string, info: AgentInfo): void {
  const path = join(dataDir, AGENT_FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify(info, null, 2) + '\n', { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

/** Removes agent.json if it is still this process's. */
export function removeAgentInfo(dataDir: string, pid = process.pid): void {
  const info = readAgentInfo(dataDir);
  if (info?.pid === pid) rmSync(join(dataDir, AGENT_FILE), { force: true });
}

export function readAgentInfo(dataDir: string): AgentInfo | null {
  try {
    const v = JSON.parse(readFileSync(join(dataDir, AGENT_FILE), 'utf8')) as Partial<AgentInfo>;
    if (typeof v.pid !== 'number' || typeof v.address !== 'string') return null;
    return v as AgentInfo;
  } catch {
    return null;
  }
}

/** Whether a process with this pid runs and looks like the agent (pids are reused). */
export function agentAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('nrdot-plus');
  } catch {
    return false;
  }
}
