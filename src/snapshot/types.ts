/**
 * The `nrdot.snapshot/v1` contract (SPEC, "Snapshot recording format"): everything read about
 * every process on a host at one instant. Field names are fixed; tools outside the project read
 * and write them, so they stay snake_case.
 */

export const SNAPSHOT_SCHEMA = 'nrdot.snapshot/v1';

export interface HostInfo {
  id: string;
  name: string;
  cpus: number;
  memory_bytes: number;
  /** Unix seconds at which the host booted (`btime`), read once per boot. */
  boot_time: number;
}

export interface ProcessSample {
  pid: number;
  ppid: number;
  /** Kernel process name (comm): up to 15 bytes, may hold spaces, parentheses and newlines. */
  name: string;
  /** Target of the `exe` link; "" when unreadable or absent (kernel threads). */
  exe: string;
  /** argv joined by single spaces, as read; "" when empty (kernel threads, zombies). */
  cmdline: string;
  /** Owner (real uid) by name, or the numeric uid when it has no name. */
  user: string;
  state: string;
  /** Absolute unix seconds: boot time + starttime ticks / CLK_TCK. With `pid`, the identity. */
  start_time: number;
  cpu_user_seconds: number;
  cpu_system_seconds: number;
  rss_bytes: number;
  vms_bytes: number;
  threads: number;
  /** Open file descriptors; null when permission is denied. */
  fds: number | null;
  /** `read_bytes` of the io file; null when permission is denied. */
  io_read_bytes: number | null;
  /** `write_bytes` of the io file; null when permission is denied. */
  io_write_bytes: number | null;
  minor_faults: number;
  major_faults: number;
  ctx_voluntary: number;
  ctx_involuntary: number;
  /** The cgroup file on one line (lines joined by ";"), or null. Optional for readers. */
  cgroup?: string | null;
}

export interface Snapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  host: HostInfo;
  /** Unix seconds (float) at which the read started. */
  timestamp: number;
  processes: ProcessSample[];
}
