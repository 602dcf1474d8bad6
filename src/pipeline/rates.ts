/**
 * Rates and deltas from the previous snapshot of the same identity (SPEC, "Selection"): a process seen
 * for the first time gets its rates from its own start time (usage since start / age), and
 * contributes its usage since start to the interval's deltas only if it started inside the interval.
 */
import type { ProcessSample } from '../snapshot/types.js';
import type { ProcessMemory } from './types.js';

export interface Usage {
  /** CPU time spent in the interval, seconds (user, system). */
  dCpuUser: number;
  dCpuSystem: number;
  /** Bytes read and written in the interval; null when the io file was unreadable. */
  dIoRead: number | null;
  dIoWrite: number | null;
  /** Rates over the interval (or since start, for a first sighting). */
  cpuPercent: number;
  ioBytesPerSec: number;
}

/** The shortest age we divide by, so that a process born an instant ago does not get an absurd rate. */
const MIN_AGE = 1;

/** Computes the usage of `p` since `prev` (or since its start) into `out`. */
export function usage(p: ProcessSample, prev: ProcessMemory | undefined, t: number, intervalStart: number | null, out: Usage): void {
  if (prev !== undefined) {
    const dt = Math.max(t - prev.t, 1e-3);
    out.dCpuUser = Math.max(0, p.cpu_user_seconds - prev.cpuUser);
    out.dCpuSystem = Math.max(0, p.cpu_system_seconds - prev.cpuSystem);
    out.dIoRead = p.io_read_bytes === null || prev.ioRead === null ? null : Math.max(0, p.io_read_bytes - prev.ioRead);
    out.dIoWrite = p.io_write_bytes === null || prev.ioWrite === null ? null : Math.max(0, p.io_write_bytes - prev.ioWrite);
    out.cpuPercent = ((out.dCpuUser + out.dCpuSystem) / dt) * 100;
    out.ioBytesPerSec = ((out.dIoRead ?? 0) + (out.dIoWrite ?? 0)) / dt;
    return;
  }
  const age = Math.max(t - p.start_time, MIN_AGE);
  const bornInside = intervalStart !== null && p.start_time >= intervalStart;
  out.dCpuUser = bornInside ? p.cpu_user_seconds : 0;
  out.dCpuSystem = bornInside ? p.cpu_system_seconds : 0;
  out.dIoRead = p.io_read_bytes === null ? null : bornInside ? p.io_read_bytes : 0;
  out.dIoWrite = p.io_write_bytes === null ? null : bornInside ? p.io_write_bytes : 0;
  out.cpuPercent = ((p.cpu_user_seconds + p.cpu_system_seconds) / age) * 100;
  out.ioBytesPerSec = ((p.io_read_bytes ?? 0) + (p.io_write_bytes ?? 0)) / age;
}
