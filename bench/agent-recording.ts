/**
 * The 10x host for `bench/agent.ts`: a synthetic recording of about 10,000 processes, built by
 * running the four archetypes side by side, again and again with other seeds (as bench/export.ts
 * does once for its ~1000-process host), pids numbered anew per copy, one init and one kthreadd. The
 * archetypes are streamed in lockstep, so memory holds one merged snapshot at a time. Written to
 * bench/out/ (gitignored) under a name that carries its parameters, and reused when already there.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RecordingWriter, readRecording } from '../src/snapshot/recording.js';
import { ARCHETYPES, SyntheticHost } from '../src/snapshot/synth.js';
import type { Snapshot } from '../src/snapshot/types.js';
import { CompactSideBySide } from './side-by-side.js';

/** Bump when the way the recording is built changes, so that a cached file is not reused. */
const VERSION = 2;

export interface ReplayRecording {
  path: string;
  snapshots: number;
  /** Processes in the last snapshot. */
  processes: number;
  cached: boolean;
}

/** Processes in one side-by-side copy of the four archetypes: enough to know how many copies make `target`. */
const PER_COPY_ESTIMATE = 1025;

export async function replayRecording(dir: string, target: number, snapshots: number, intervalSeconds: number): Promise<ReplayRecording> {
  const copies = Math.max(1, Math.round(target / PER_COPY_ESTIMATE));
  const path = join(dir, `agent-replay-v${VERSION}-${copies}x4-${snapshots}x${intervalSeconds}s.ndjson.gz`);
  if (existsSync(path)) {
    let count = 0;
    let processes = 0;
    for await (const s of readRecording(path)) {
      count++;
      processes = s.processes.length;
    }
    if (count === snapshots) return { path, snapshots: count, processes, cached: true };
  }
  const hosts = Array.from({ length: copies }, (_, c) =>
    ARCHETYPES.map((archetype) => new SyntheticHost({ archetype, intervals: snapshots, intervalSeconds, seed: c + 1 }).snapshots()),
  ).flat();
  const merger = new CompactSideBySide(hosts.length);
  const partial = `${path}.partial`;
  const writer = RecordingWriter.open(partial);
  let failed: Error | null = null;
  writer.onError((err) => (failed = err));
  let processes = 0;
  try {
    for (let i = 0; i < snapshots; i++) {
      const parts = hosts.map((h) => h.next().value as Snapshot);
      const merged: Snapshot = {
        ...parts[0]!,
        host: { ...parts[0]!.host, id: 'bench-10x', name: 'bench-10x' },
        processes: merger.merge(parts.map((s) => s.processes)),
      };
      processes = merged.processes.length;
      await writer.write(merged);
      if (failed) throw failed;
    }
    await writer.close();
    if (failed) throw failed;
    renameSync(partial, path); // only a complete recording is ever reused
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  return { path, snapshots, processes, cached: false };
}

/**
 * CPU (user + system, every thread of this process) that reading the recording costs per snapshot:
 * inflate, split lines, parse and check JSON, as the agent's replay source does. Measured on a
 * second pass (the first warms the JIT, as the agent's first interval is outside its window).
 */
export async function readCostMs(path: string): Promise<number> {
  let ms = 0;
  for (let pass = 0; pass < 2; pass++) {
    let count = 0;
    let processes = 0;
    const c0 = process.cpuUsage();
    for await (const s of readRecording(path)) {
      count++;
      processes += s.processes.length;
    }
    const c = process.cpuUsage(c0);
    if (processes === 0) throw new Error(`${path}: no processes`);
    ms = (c.user + c.system) / 1000 / count;
  }
  return ms;
}
