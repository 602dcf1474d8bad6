/**
 * Facts about the system the receiver needs once: CLK_TCK and the page size (from the kernel's
 * auxiliary vector, as libc's sysconf reads them), the host's identity, boot time, CPUs and memory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface SystemConstants {
  /** Clock ticks per second (sysconf(_SC_CLK_TCK)). */
  clockTicks: number;
  /** Bytes per page (sysconf(_SC_PAGESIZE)). */
  pageSize: number;
}

const AT_PAGESZ = 6n;
const AT_CLKTCK = 17n;

/** Parses an auxiliary vector (pairs of native-endian 64-bit words) into the two values we need. */
export function parseAuxv(auxv: Buffer): Partial<SystemConstants> {
  const out: Partial<SystemConstants> = {};
  for (let i = 0; i + 16 <= auxv.length; i += 16) {
    const type = auxv.readBigUInt64LE(i);
    const value = Number(auxv.readBigUInt64LE(i + 8));
    if (type === 0n) break;
    if (type === AT_CLKTCK) out.clockTicks = value;
    else if (type === AT_PAGESZ) out.pageSize = value;
  }
  return out;
}

let cached: SystemConstants | undefined;

/** CLK_TCK and page size of this system, never assumed: auxv first, `getconf` as the fallback. */
export function systemConstants(): SystemConstants {
  if (cached) return cached;
  let found: Partial<SystemConstants> = {};
  try {
    found = parseAuxv(readFileSync('/proc/self/auxv'));
  } catch {
    // Not fatal: getconf asks libc the same question.
  }
  const clockTicks = found.clockTicks || getconf('CLK_TCK');
  const pageSize = found.pageSize || getconf('PAGESIZE');
  cached = { clockTicks, pageSize };
  return cached;
}

function getconf(name: string): number {
  const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf ${name} returned no usable value`);
  return value;
}

/**
 * The host's identity (SPEC, "Vocabulary"): an explicit override (NRDOT_HOST_ID), else
 * /etc/machine-id, else the hostname.
 */
export function resolveHostId(override?: string, machineIdPath = '/etc/machine-id'): string {
  if (override && override.trim() !== '') return override.trim();
  try {
    const id = readFileSync(machineIdPath, 'utf8').trim();
    if (id !== '') return id;
  } catch {
    // No machine-id (containers, minimal images): fall through to the hostname.
  }
  return hostname();
}

export interface BootFacts {
  /** `btime`: unix seconds of boot. */
  bootTime: number;
  /** Number of `cpuN` lines in the stat file. */
  cpus: number;
}

/** Reads btime and the CPU count from `<root>/stat`. */
export function readBootFacts(root: string): BootFacts {
  const path = join(root, 'stat');
  const text = readFileSync(path, 'latin1');
  let bootTime = NaN;
  let cpus = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('btime ')) bootTime = Number(line.slice(6).trim());
    else if (line.startsWith('cpu') && line.charCodeAt(3) >= 48 && line.charCodeAt(3) <= 57) cpus++;
  }
  if (!Number.isFinite(bootTime)) throw new Error(`${path}: no btime line`);
  return { bootTime, cpus: Math.max(cpus, 1) };
}

/** MemTotal from `<root>/meminfo`, in bytes. */
export function readMemTotal(root: string): number {
  const path = join(root, 'meminfo');
  const match = /^MemTotal:\s+(\d+)\s*kB/m.exec(readFileSync(path, 'latin1'));
  if (!match) throw new Error(`${path}: no MemTotal line`);
  return Number(match[1]) * 1024;
}

/** The soft limit on open files of this process, from /proc/self/limits (Infinity if unlimited). */
export function openFileLimit(): number {
  try {
    const match = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (!match || match[1] === 'unlimited') return Infinity;
    return Number(match[1]);
  } catch {
    return 1024;
  }
}
