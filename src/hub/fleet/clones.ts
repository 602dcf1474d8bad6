// Clone detection by sequence numbers (SPEC: "sequence numbers interleaving"): two agents sharing
// one instance UID (a copied data directory, a cloned VM) each count their own sequence. Each UID
// keeps the last two streams of consecutive numbers it was seen with; a message continuing the
// stream that is not the latest, while the latest is still alive, means two are talking at once.
// The newcomer (the stream that started later) is the clone: it gets a new UID at its next
// message. A restart (a new stream, the old one never continues) is not a clone. Two copies started
// together count in step (n, n, n+1, n+1, ...): one stream with every number twice. An agent sends a
// number again only to retry a lost reply, so 3 numbers in a row seen twice are two agents, and the
// one sending the third repeat gets the new UID.
// In memory, per replica: behind a balancer each replica sees part of the interleaving; the
// host/boot identity check in the engine (stored in the database) covers the common case.

interface Stream {
  lastSeq: number;
  /** Order of appearance (milliseconds can tie). */
  order: number;
  lastMs: number;
  /** Marked as the clone: it gets a new UID at its next message. */
  doomed: boolean;
  /** lastSeq was seen twice. */
  repeated: boolean;
  /** Consecutive numbers seen twice, up to lastSeq. */
  repeatRun: number;
}

/** Consecutive sequence numbers seen twice that make two agents in step (one retry repeats one). */
const REPEATS_IN_STEP = 3;

interface Track {
  streams: Stream[];
  latest: Stream;
}

export class CloneTracker {
  private tracks = new Map<string, Track>();
  private counter = 0;

  constructor(private readonly maxAgents = 200_000) {}

  forget(uid: string): void {
    this.tracks.delete(uid);
  }

  /** Records one message; true when it comes from a clone that must get a new UID now. */
  observe(uid: string, seq: number, nowMs: number, aliveMs: number): boolean {
    const t = this.tracks.get(uid);
    if (!t) {
      if (this.tracks.size >= this.maxAgents) this.tracks.clear();
      const s: Stream = { lastSeq: seq, order: this.counter++, lastMs: nowMs, doomed: false, repeated: false, repeatRun: 0 };
      this.tracks.set(uid, { streams: [s], latest: s });
      return false;
    }
    const s = t.streams.find((x) => seq === x.lastSeq + 1 || seq === x.lastSeq);
    if (!s) {
      const fresh: Stream = { lastSeq: seq, order: this.counter++, lastMs: nowMs, doomed: false, repeated: false, repeatRun: 0 };
      if (t.streams.length >= 2) t.streams = [t.latest];
      t.streams.push(fresh);
      t.latest = fresh;
      return false;
    }
    // Both alive and alternating: two talk at once. A stream back after a long silence is a late
    // message of a stopped process, not a second one.
    if (s !== t.latest && nowMs - t.latest.lastMs < aliveMs && nowMs - s.lastMs < aliveMs && !s.doomed) {
      const newcomer = s.order > t.latest.order ? s : t.latest;
      if (newcomer === s) return this.cut(uid, t, s);
      t.latest.doomed = true;
    }
    if (s.doomed) return this.cut(uid, t, s);
    if (seq === s.lastSeq) {
      if (!s.repeated) {
        s.repeated = true;
        if (++s.repeatRun >= REPEATS_IN_STEP) {
          s.repeatRun = 0;
          s.lastMs = nowMs;
          return true;
        }
      }
    } else {
      if (!s.repeated) s.repeatRun = 0;
      s.repeated = false;
    }
    const revived = s !== t.latest && nowMs - s.lastMs >= aliveMs;
    s.lastSeq = seq;
    s.lastMs = nowMs;
    if (!revived || nowMs - t.latest.lastMs >= aliveMs) t.latest = s;
    return false;
  }

  private cut(uid: string, t: Track, clone: Stream): boolean {
    t.streams = t.streams.filter((x) => x !== clone);
    const rest = t.streams[0];
    if (rest) t.latest = rest;
    else this.tracks.delete(uid);
    return true;
  }
}
