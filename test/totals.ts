/** Totals computed from the input snapshots alone, for tests that check the optimizer's output. */
import type { Snapshot } from '../src/snapshot/types.js';

/**
 * The interval's per-process CPU (seconds) and IO (bytes) deltas, by SPEC "Rollups": a process seen
 * before contributes its growth; one seen for the first time contributes its usage since start if it
 * started inside the interval, else nothing.
 */
export function inputDeltas(prev: Snapshot | null, cur: Snapshot): { cpu: number; io: number; rss: number } {
  const before = new Map((prev?.processes ?? []).map((p) => [`${p.pid}:${p.start_time}`, p]));
  let cpu = 0;
  let io = 0;
  let rss = 0;
  for (const p of cur.processes) {
    rss += p.rss_bytes;
    const q = before.get(`${p.pid}:${p.start_time}`);
    if (q) {
      cpu += p.cpu_user_seconds - q.cpu_user_seconds + (p.cpu_system_seconds - q.cpu_system_seconds);
      if (p.io_read_bytes !== null && q.io_read_bytes !== null) io += p.io_read_bytes - q.io_read_bytes + (p.io_write_bytes! - q.io_write_bytes!);
    } else if (prev && p.start_time >= prev.timestamp) {
      cpu += p.cpu_user_seconds + p.cpu_system_seconds;
      io += (p.io_read_bytes ?? 0) + (p.io_write_bytes ?? 0);
    }
  }
  return { cpu, io, rss };
}
