/** The receiver's options, results and per-identity memory. */
import type { Snapshot } from '../snapshot/types.js';
import type { SystemConstants } from './system.js';
import type { UserResolver } from './users.js';

/**
 * Fields that can be unreadable for lack of permission; counted per kind in every scrape. `hidden`:
 * the whole process is hidden from us (procfs mounted with hidepid=1); it is skipped.
 */
export const PERMISSION_KINDS = ['exe', 'cmdline', 'io', 'fd', 'cgroup', 'hidden'] as const;
export type PermissionKind = (typeof PERMISSION_KINDS)[number];

export interface ProcfsReaderOptions {
  /** The procfs root; default `/proc`. */
  root?: string;
  /** The collection interval in seconds: static attributes are re-read once a process has lived it. */
  intervalSeconds?: number;
  /** Overrides the host identity (NRDOT_HOST_ID). */
  hostId?: string;
  hostName?: string;
  users?: UserResolver;
  /**
   * Keep per-process files open between scrapes. Default: only when root is a procfs mount, where
   * a held file is tied to one process identity (on an ordinary directory it is not).
   */
  holdFiles?: boolean;
  /** Unix seconds, fractional; default the system clock. */
  clock?: () => number;
  /** Most descriptors to hold open (default: half the open-file limit, less a reserve). */
  heldFileBudget?: number;
  /** Keep up to this many permission-error details per scrape (for unmuted logging); default 0. */
  errorDetails?: number;
  systemConstants?: SystemConstants;
}

export interface PermissionErrorDetail {
  pid: number;
  name: string;
  kind: PermissionKind;
}

/** What one scrape did, beside the snapshot: the agent logs it every interval. */
export interface ReadStats {
  /** Processes in the snapshot. */
  processes: number;
  /** Processes listed that exited before they could be read whole (normal, skipped). */
  vanished: number;
  /** Per kind: processes in this snapshot with that field unreadable for lack of permission. */
  permissionErrors: Record<PermissionKind, number>;
  permissionErrorsTotal: number;
  /** Files that failed for another reason (I/O error, malformed content); the field is left empty. */
  otherErrors: number;
  /** Wall-clock time of the scrape. */
  durationMs: number;
  /** Up to `errorDetails` examples of permission errors in this scrape. */
  permissionErrorDetails: PermissionErrorDetail[];
}

export interface ReadResult {
  snapshot: Snapshot;
  stats: ReadStats;
}

/** What the receiver remembers about one process identity between scrapes. */
export interface Tracked {
  pid: number;
  startTicks: number;
  /** Held descriptors (-1: not held). */
  statFd: number;
  statusFd: number;
  ioFd: number;
  fdDirFd: number;
  /** Static attributes, read at first sight and once more after a full interval. */
  exe: string;
  cmdline: string;
  user: string;
  cgroup: string | null;
  /** comm as last read, and its bytes (to skip decoding an unchanged name). */
  name: string;
  nameBytes: Uint8Array;
  staticsRead: boolean;
  staticsFrozen: boolean;
  /** Per-identity permission facts: a denied file stays denied, so it is not retried every scrape. */
  exeDenied: boolean;
  cmdlineDenied: boolean;
  cgroupDenied: boolean;
  ioDenied: boolean;
  fdDenied: boolean;
  seenInScrape: number;
}

