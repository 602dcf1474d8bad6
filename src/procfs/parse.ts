/**
 * Parsers for the per-process procfs files, working on the bytes as read (no string per line):
 * this is the receiver's hot path. Each returns false / -1 on input it cannot make sense of, so the
 * caller can treat a malformed file like a process that vanished.
 */

/** The fields of `/proc/PID/stat` a snapshot needs (proc(5) numbering in the comments). */
export interface StatFields {
  /** Byte range of comm (field 2) inside the buffer: after the first '(' up to the last ')'. */
  nameStart: number;
  nameEnd: number;
  /** Field 3, one character. */
  state: string;
  ppid: number; // 4
  minorFaults: number; // 10
  majorFaults: number; // 12
  utimeTicks: number; // 14
  stimeTicks: number; // 15
  threads: number; // 20
  startTicks: number; // 22
  vsizeBytes: number; // 23
  rssPages: number; // 24
}

export function newStatFields(): StatFields {
  return {
    nameStart: 0,
    nameEnd: 0,
    state: '',
    ppid: 0,
    minorFaults: 0,
    majorFaults: 0,
    utimeTicks: 0,
    stimeTicks: 0,
    threads: 0,
    startTicks: 0,
    vsizeBytes: 0,
    rssPages: 0,
  };
}

const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const SPACE = 0x20;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const NEWLINE = 0x0a;

/** One-letter states are ASCII; cache their strings so the loop allocates none. */
const STATE_STRINGS: string[] = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/** The stat fields parseStat converts (proc(5) numbering); the others are skipped over. */
const WANTED: boolean[] = Array.from({ length: 25 }, (_, f) => [4, 10, 12, 14, 15, 20, 22, 23, 24].includes(f));

/**
 * Parses `/proc/PID/stat` from buf[0, len) into out. The name may contain anything, spaces and
 * parentheses included, so it runs from the first '(' to the last ')'; the fields follow the last ')'.
 */
export function parseStat(buf: Uint8Array, len: number, out: StatFields): boolean {
  let open = -1;
  for (let i = 0; i < len; i++) {
    if (buf[i] === OPEN_PAREN) {
      open = i;
      break;
    }
  }
  if (open < 0) return false;
  let close = -1;
  for (let i = len - 1; i > open; i--) {
    if (buf[i] === CLOSE_PAREN) {
      close = i;
      break;
    }
  }
  if (close < 0 || close + 2 >= len) return false;
  out.nameStart = open + 1;
  out.nameEnd = close;
  const stateByte = buf[close + 2]!;
  out.state = stateByte < 128 ? STATE_STRINGS[stateByte]! : '?';

  let field = 4;
  let i = close + 4; // first byte of field 4
  while (field <= 24 && i < len) {
    if (!WANTED[field]) {
      // A field we do not keep: step over it without converting it.
      const from = i;
      while (i < len && buf[i] !== SPACE && buf[i] !== NEWLINE) i++;
      if (i === from) return false;
      field++;
      i++;
      continue;
    }
    let negative = false;
    if (buf[i] === MINUS) {
      negative = true;
      i++;
    }
    let value = 0;
    let digits = 0;
    for (; i < len; i++) {
      const b = buf[i]!;
      if (b < ZERO || b > NINE) break;
      value = value * 10 + (b - ZERO);
      digits++;
    }
    if (digits === 0) return false;
    if (negative) value = -value;
    switch (field) {
      case 4: out.ppid = value; break;
      case 10: out.minorFaults = value; break;
      case 12: out.majorFaults = value; break;
      case 14: out.utimeTicks = value; break;
      case 15: out.stimeTicks = value; break;
      case 20: out.threads = value; break;
      case 22: out.startTicks = value; break;
      case 23: out.vsizeBytes = value; break;
      case 24: out.rssPages = value; break;
    }
    field++;
    if (i < len && (buf[i] === SPACE || buf[i] === NEWLINE)) i++;
    else if (field <= 24) return false;
  }
  return field > 24;
}

/** Reads an unsigned decimal at buf[i], skipping leading spaces and tabs; -1 when there is none. */
function numberAt(buf: Uint8Array, i: number, len: number): number {
  while (i < len && (buf[i] === SPACE || buf[i] === 0x09)) i++;
  let value = 0;
  let digits = 0;
  for (; i < len; i++) {
    const b = buf[i]!;
    if (b < ZERO || b > NINE) break;
    value = value * 10 + (b - ZERO);
    digits++;
  }
  return digits === 0 ? -1 : value;
}

/**
 * Finds `key` (which starts with "\n", so it matches at a line start) in buf[0, len) and returns
 * the number after it, or -1. The buffer is reused between reads, so a match past len is stale.
 */
export function lineValue(buf: Buffer, len: number, key: Buffer): number {
  const at = buf.indexOf(key);
  if (at < 0 || at + key.length > len) return -1;
  return numberAt(buf, at + key.length, len);
}

/**
 * Like lineValue, but walks back from the end over at most `maxLines` lines first: the keys we read
 * every scrape sit at the end of their files (status ends with the context switches, io with the
 * byte counters), so this touches a few dozen bytes and makes no native call. Falls back to a search.
 */
export function lineValueNearEnd(buf: Buffer, len: number, key: Buffer, maxLines: number): number {
  let end = len;
  if (end > 0 && buf[end - 1] === NEWLINE) end--;
  for (let line = 0; line < maxLines && end > 0; line++) {
    let start = end;
    while (start > 0 && buf[start - 1] !== NEWLINE) start--;
    // key is "\n" + name: compare the name with the start of this line.
    const keyLen = key.length - 1;
    if (end - start >= keyLen) {
      let k = 0;
      while (k < keyLen && buf[start + k] === key[k + 1]) k++;
      if (k === keyLen) return numberAt(buf, start + keyLen, len);
    }
    end = start - 1;
  }
  return lineValue(buf, len, key);
}

export const STATUS_UID = Buffer.from('\nUid:');
export const STATUS_VOLUNTARY = Buffer.from('\nvoluntary_ctxt_switches:');
export const STATUS_NONVOLUNTARY = Buffer.from('\nnonvoluntary_ctxt_switches:');
export const IO_READ_BYTES = Buffer.from('\nread_bytes:');
export const IO_WRITE_BYTES = Buffer.from('\nwrite_bytes:');

/** Joins argv (NUL-separated, NUL-terminated) with single spaces, as read. */
export function joinCmdline(raw: Buffer): string {
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end--;
  if (end === 0) return '';
  for (let i = 0; i < end; i++) if (raw[i] === 0) raw[i] = SPACE;
  return raw.toString('utf8', 0, end);
}

/** The cgroup file on one line: its lines (one per hierarchy on cgroup v1) joined by ";". */
export function oneLineCgroup(text: string): string | null {
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.length === 0 ? null : lines.join(';');
}
