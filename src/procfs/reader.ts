/**
 * The procfs receiver: reads every process under a procfs root into an `nrdot.snapshot/v1` snapshot.
 *
 * Hot path, written for speed (ARCHITECTURE, "pino"): synchronous reads into one reused buffer,
 * parsers that work on bytes, and on a real procfs mount the per-process files held open between
 * scrapes, so a steady-state scrape costs one pread per file instead of open + read + close.
 * A held file belongs to one process identity: once that process exits, reads fail with ESRCH even
 * if the kernel reuses its pid, so a held file can never report another process.
 *
 * Static attributes (exe, cmdline, user, cgroup) are read when an identity is first seen and once
 * more after it has lived a full interval (services retitle themselves after fork), then frozen.
 */
import {
  closeSync,
  existsSync,
  constants as fsConstants,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { boundCmdline, cutCmdline, MAX_CMDLINE } from '../snapshot/cmdline.js';
import type { HostInfo, ProcessSample } from '../snapshot/types.js';
import { SNAPSHOT_SCHEMA } from '../snapshot/types.js';
import {
  IO_READ_BYTES,
  IO_WRITE_BYTES,
  STATUS_NONVOLUNTARY,
  STATUS_UID,
  STATUS_VOLUNTARY,
  joinCmdline,
  lineValue,
  lineValueNearEnd,
  newStatFields,
  oneLineCgroup,
  parseStat,
} from './parse.js';
import {
  openFileLimit,
  readBootFacts,
  readMemTotal,
  resolveHostId,
  systemConstants,
  type SystemConstants,
} from './system.js';
import { DENIED, errorCode, FAILED, fdDirReportsCount, GONE, isProcMount } from './files.js';
import { PERMISSION_KINDS, type PermissionKind, type ProcfsReaderOptions, type ReadResult, type ReadStats, type Tracked } from './types.js';
import { UserResolver } from './users.js';

const HELD_PER_PROCESS = 4;
const DIRECTORY_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY;

export class ProcfsReader {
  readonly root: string;
  private readonly intervalSeconds: number;
  private readonly users: UserResolver;
  private readonly clock: () => number;
  private readonly constants: SystemConstants;
  private readonly fdCountFromSize: boolean;
  /** On a real procfs, ENOENT/ESRCH means the process exited; in a copied tree, a missing file. */
  private readonly isProcfs: boolean;
  /** Kernels without task IO accounting have no io files: the io fields are null, not an error. */
  private readonly ioAccounting: boolean;
  private readonly errorDetails: number;
  private readonly hostId: string;
  private readonly hostName: string;
  private readonly bootTime: number;
  private readonly cpus: number;

  private readonly tracked = new Map<string, Tracked>();
  private heldBudget: number;
  private scrapeNo = 0;
  private buf = Buffer.allocUnsafe(16384);
  /** For command lines: the bound, and 2 bytes to tell a longer one (a final NUL may follow the bound). */
  private readonly cmdlineBuf = Buffer.allocUnsafe(MAX_CMDLINE + 2);
  private readonly stat = newStatFields();
  private closed = false;

  constructor(options: ProcfsReaderOptions = {}) {
    this.root = options.root ?? '/proc';
    this.intervalSeconds = options.intervalSeconds ?? 60;
    this.users = options.users ?? new UserResolver();
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.constants = options.systemConstants ?? systemConstants();
    this.errorDetails = options.errorDetails ?? 0;
    this.hostId = resolveHostId(options.hostId);
    this.hostName = options.hostName ?? hostname();
    // btime once per boot: re-reading it would let start_time (and so identities) jitter.
    const boot = readBootFacts(this.root);
    this.bootTime = boot.bootTime;
    this.cpus = boot.cpus;
    const isProcfs = isProcMount(this.root);
    this.isProcfs = isProcfs;
    this.ioAccounting = !isProcfs || existsSync(this.root + '/self/io');
    const holdFiles = options.holdFiles ?? isProcfs;
    // Since Linux 6.2 the size of /proc/PID/fd is its number of open descriptors: no listing needed.
    this.fdCountFromSize = isProcfs && fdDirReportsCount(this.root);
    // Leave most descriptors to the rest of the agent (exporters, store, HTTP).
    const limit = openFileLimit();
    const budget = options.heldFileBudget ?? Math.max(0, Math.floor((Math.min(limit, 1 << 20) - 256) / 2));
    this.heldBudget = holdFiles ? budget : 0;
  }

  /** Reads one snapshot. Never throws for anything a process does; throws if the root is unreadable. */
  read(): ReadResult {
    if (this.closed) throw new Error('ProcfsReader is closed');
    const started = performance.now();
    const timestamp = this.clock();
    const scrape = ++this.scrapeNo;
    const stats: ReadStats = {
      processes: 0,
      vanished: 0,
      permissionErrors: { exe: 0, cmdline: 0, io: 0, fd: 0, cgroup: 0, hidden: 0 },
      permissionErrorsTotal: 0,
      otherErrors: 0,
      durationMs: 0,
      permissionErrorDetails: [],
    };
    const host: HostInfo = {
      id: this.hostId,
      name: this.hostName,
      cpus: this.cpus,
      memory_bytes: readMemTotal(this.root),
      boot_time: this.bootTime,
    };
    const processes: ProcessSample[] = [];
    const entries = readdirSync(this.root);
    for (let i = 0; i < entries.length; i++) {
      const name = entries[i]!;
      const first = name.charCodeAt(0);
      if (first < 0x30 || first > 0x39) continue;
      const sample = this.readProcess(name, timestamp, scrape, stats);
      if (sample) processes.push(sample);
    }
    this.forgetExited(scrape);
    stats.processes = processes.length;
    for (const kind of PERMISSION_KINDS) stats.permissionErrorsTotal += stats.permissionErrors[kind];
    stats.durationMs = performance.now() - started;
    return { snapshot: { schema: SNAPSHOT_SCHEMA, host, timestamp, processes }, stats };
  }

  /** Closes every held file. */
  close(): void {
    for (const t of this.tracked.values()) this.release(t);
    this.tracked.clear();
    this.closed = true;
  }

  /** Number of process identities tracked (for tests and self-metrics). */
  get trackedCount(): number {
    return this.tracked.size;
  }

  private readProcess(pidName: string, timestamp: number, scrape: number, stats: ReadStats): ProcessSample | null {
    const dir = this.root + '/' + pidName;
    let t = this.tracked.get(pidName);
    let n: number;
    if (t !== undefined && t.statFd >= 0) {
      n = this.pread(t.statFd);
      if (n === GONE) {
        // The identity behind the held file exited; the pid may already belong to a new process.
        this.release(t);
        this.tracked.delete(pidName);
        t = undefined;
      }
    } else {
      n = GONE;
    }
    if (t === undefined) {
      t = this.track(pidName, dir);
      n = t.statFd >= 0 ? this.pread(t.statFd) : this.readPath(dir + '/stat');
    } else if (t.statFd < 0) {
      n = this.readPath(dir + '/stat');
    }
    if (n < 0 || !parseStat(this.buf, n, this.stat)) {
      // Exited between the listing and the read, or hidden from us (hidepid): both are normal.
      if (n === GONE) stats.vanished++;
      else if (n === DENIED) this.denied(stats, 'hidden', Number(pidName), '');
      else stats.otherErrors++;
      this.drop(pidName, t);
      return null;
    }
    const st = this.stat;
    if (t.startTicks !== st.startTicks) {
      if (t.startTicks >= 0) {
        // Same pid, new start time: the kernel reused the pid. A new identity starts from scratch.
        this.release(t);
        t = this.track(pidName, dir);
      }
      t.startTicks = st.startTicks;
    }
    t.seenInScrape = scrape;
    const name = this.nameOf(t, st.nameStart, st.nameEnd);
    const { clockTicks, pageSize } = this.constants;
    const startTime = this.bootTime + st.startTicks / clockTicks;

    // First sight, and once more when a process first seen young has lived a full interval.
    const livedInterval = timestamp - startTime >= this.intervalSeconds;
    const readStatics = !t.staticsRead || (!t.staticsFrozen && livedInterval);
    if (readStatics) {
      this.readStatics(t, dir);
      t.staticsRead = true;
      t.staticsFrozen = livedInterval;
    }

    // status: context switches every time; the real uid along with the static attributes. Read
    // after them, it is also the proof that the process was alive while they were read.
    n = t.statusFd >= 0 ? this.pread(t.statusFd) : this.readPath(dir + '/status');
    if (n < 0) {
      if (n === FAILED) stats.otherErrors++;
      else stats.vanished++;
      this.drop(pidName, t);
      return null;
    }
    const ctxVoluntary = lineValueNearEnd(this.buf, n, STATUS_VOLUNTARY, 4);
    const ctxInvoluntary = lineValueNearEnd(this.buf, n, STATUS_NONVOLUNTARY, 4);
    if (readStatics) {
      const uid = lineValue(this.buf, n, STATUS_UID);
      t.user = uid >= 0 ? this.users.name(uid) : '';
    }

    let ioRead: number | null = null;
    let ioWrite: number | null = null;
    if (this.ioAccounting && !t.ioDenied) {
      n = t.ioFd >= 0 ? this.pread(t.ioFd) : this.readPath(dir + '/io');
      if (n === GONE && this.isProcfs) {
        stats.vanished++;
        this.drop(pidName, t);
        return null;
      }
      if (n === DENIED) t.ioDenied = true;
      else if (n === FAILED) stats.otherErrors++;
      else if (n === GONE) {
        // A procfs tree without this process's io file (fixtures, copies): the field stays null.
      }
      else {
        const r = lineValueNearEnd(this.buf, n, IO_READ_BYTES, 4);
        const w = lineValueNearEnd(this.buf, n, IO_WRITE_BYTES, 4);
        if (r >= 0 && w >= 0) {
          ioRead = r;
          ioWrite = w;
        } else stats.otherErrors++;
      }
    }

    let fds: number | null = null;
    if (!t.fdDenied) {
      const count = this.countFds(t, dir);
      if (count === GONE && this.isProcfs) {
        stats.vanished++;
        this.drop(pidName, t);
        return null;
      }
      if (count === DENIED) t.fdDenied = true;
      else if (count === FAILED) stats.otherErrors++;
      else if (count >= 0) fds = count;
    }

    const pid = t.pid;
    if (t.exeDenied) this.denied(stats, 'exe', pid, name);
    if (t.cmdlineDenied) this.denied(stats, 'cmdline', pid, name);
    if (t.cgroupDenied) this.denied(stats, 'cgroup', pid, name);
    if (t.ioDenied) this.denied(stats, 'io', pid, name);
    if (t.fdDenied) this.denied(stats, 'fd', pid, name);

    return {
      pid,
      ppid: st.ppid,
      name,
      exe: t.exe,
      cmdline: t.cmdline,
      user: t.user,
      state: st.state,
      start_time: startTime,
      cpu_user_seconds: st.utimeTicks / clockTicks,
      cpu_system_seconds: st.stimeTicks / clockTicks,
      rss_bytes: st.rssPages * pageSize,
      vms_bytes: st.vsizeBytes,
      threads: st.threads,
      fds,
      io_read_bytes: ioRead,
      io_write_bytes: ioWrite,
      minor_faults: st.minorFaults,
      major_faults: st.majorFaults,
      ctx_voluntary: ctxVoluntary >= 0 ? ctxVoluntary : 0,
      ctx_involuntary: ctxInvoluntary >= 0 ? ctxInvoluntary : 0,
      cgroup: t.cgroup,
    };
  }

  /** The process name, decoded only when its bytes changed (comm rarely does). */
  private nameOf(t: Tracked, start: number, end: number): string {
    const buf = this.buf;
    const cached = t.nameBytes;
    let same = cached.length === end - start;
    for (let i = 0; same && i < cached.length; i++) same = cached[i] === buf[start + i];
    if (!same) {
      t.nameBytes = Uint8Array.prototype.slice.call(buf, start, end);
      t.name = buf.toString('utf8', start, end);
    }
    return t.name;
  }

  private denied(stats: ReadStats, kind: PermissionKind, pid: number, name: string): void {
    stats.permissionErrors[kind]++;
    if (stats.permissionErrorDetails.length < this.errorDetails) stats.permissionErrorDetails.push({ pid, name, kind });
  }

  /** Starts tracking a new identity, holding its files when the budget allows. */
  private track(pidName: string, dir: string): Tracked {
    const t: Tracked = {
      pid: Number(pidName),
      startTicks: -1,
      statFd: -1,
      statusFd: -1,
      ioFd: -1,
      fdDirFd: -1,
      exe: '',
      cmdline: '',
      user: '',
      cgroup: null,
      name: '',
      nameBytes: new Uint8Array(0),
      staticsRead: false,
      staticsFrozen: false,
      exeDenied: false,
      cmdlineDenied: false,
      cgroupDenied: false,
      ioDenied: false,
      fdDenied: false,
      seenInScrape: 0,
    };
    if (this.heldBudget >= HELD_PER_PROCESS) {
      t.statFd = this.openHeld(dir + '/stat', 'r');
      t.statusFd = this.openHeld(dir + '/status', 'r');
      t.ioFd = this.openHeld(dir + '/io', 'r');
      if (this.fdCountFromSize) t.fdDirFd = this.openHeld(dir + '/fd', DIRECTORY_FLAGS);
    }
    this.tracked.set(pidName, t);
    return t;
  }

  private openHeld(path: string, flags: string | number): number {
    try {
      const fd = openSync(path, flags);
      this.heldBudget--;
      return fd;
    } catch {
      return -1; // read by path instead, which reports the error properly
    }
  }

  /**
   * Reads exe, cmdline and cgroup. A failure leaves the field empty: ENOENT on exe is a kernel thread
   * or a zombie; whether the process exited meanwhile is decided by the status read that follows.
   */
  private readStatics(t: Tracked, dir: string): void {
    try {
      t.exe = readlinkSync(dir + '/exe', 'buffer').toString('utf8');
      t.exeDenied = false;
    } catch (err) {
      t.exe = '';
      t.exeDenied = errorCode(err) === DENIED;
    }
    try {
      t.cmdline = this.readCmdline(dir + '/cmdline');
      t.cmdlineDenied = false;
    } catch (err) {
      t.cmdline = '';
      t.cmdlineDenied = errorCode(err) === DENIED;
    }
    try {
      t.cgroup = oneLineCgroup(readFileSync(dir + '/cgroup', 'utf8'));
      t.cgroupDenied = false;
    } catch (err) {
      t.cgroup = null; // also absent on kernels without cgroups
      t.cgroupDenied = errorCode(err) === DENIED;
    }
  }

  /**
   * The command line, of which at most MAX_CMDLINE bytes are read (and 2 more to know whether there
   * is more): arguments of any length cost the same. Throws like readFileSync.
   */
  private readCmdline(path: string): string {
    const buf = this.cmdlineBuf;
    const fd = openSync(path, 'r');
    let n = 0;
    try {
      // The kernel may return less than asked for; read until the buffer is full or the end.
      for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    } finally {
      closeSync(fd);
    }
    const cmdline = joinCmdline(buf.subarray(0, n));
    return n === buf.length ? cutCmdline(cmdline) : boundCmdline(cmdline);
  }

  private countFds(t: Tracked, dir: string): number {
    try {
      if (t.fdDirFd >= 0) return fstatSync(t.fdDirFd).size;
      if (this.fdCountFromSize) return statSync(dir + '/fd').size;
      return readdirSync(dir + '/fd').length;
    } catch (err) {
      return errorCode(err);
    }
  }

  /** pread at offset 0 into the shared buffer, growing it when a file does not fit. */
  private pread(fd: number): number {
    try {
      let n = readSync(fd, this.buf, 0, this.buf.length, 0);
      while (n === this.buf.length) {
        this.buf = Buffer.allocUnsafe(this.buf.length * 2);
        n = readSync(fd, this.buf, 0, this.buf.length, 0);
      }
      return n;
    } catch (err) {
      return errorCode(err);
    }
  }

  private readPath(path: string): number {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      return errorCode(err);
    }
    try {
      return this.pread(fd);
    } finally {
      closeSync(fd);
    }
  }

  private release(t: Tracked): void {
    for (const fd of [t.statFd, t.statusFd, t.ioFd, t.fdDirFd]) {
      if (fd >= 0) {
        closeSync(fd);
        this.heldBudget++;
      }
    }
    t.statFd = t.statusFd = t.ioFd = t.fdDirFd = -1;
  }

  private drop(pidName: string, t: Tracked): void {
    this.release(t);
    this.tracked.delete(pidName);
  }

  /** Forgets identities that were not listed in this scrape (they exited). */
  private forgetExited(scrape: number): void {
    for (const [pidName, t] of this.tracked) {
      if (t.seenInScrape !== scrape) this.drop(pidName, t);
    }
  }
}
