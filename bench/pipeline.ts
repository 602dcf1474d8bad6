/**
 * `node dist/bench/pipeline.js [--archetype NAME] [--intervals N] [--profile P] [--input FILE]`:
 * optimizer throughput, in process-samples per second (one process in one snapshot = one sample).
 *
 * - end to end: gzip NDJSON recording in, KPIs out (reading, gunzip, JSON parsing, the pipeline),
 *   which is what `nrdot-plus-ctl simulate` does for one profile;
 * - pipeline alone: the same snapshots already in memory; and with the per-process decisions built,
 *   as the agent builds them every interval (for `explain` and `top`).
 * Also prints the peak RSS of the end-to-end run, for two recording lengths, to show that memory is
 * bounded by one interval, not by the recording.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/config/index.js';
import { emptyState, Pipeline } from '../src/pipeline/index.js';
import { readRecording } from '../src/snapshot/recording.js';
import type { Snapshot } from '../src/snapshot/types.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CTL = join(REPO, 'bin/nrdot-plus-ctl');

async function endToEnd(file: string, profile: string): Promise<{ samples: number; seconds: number }> {
  const pipeline = new Pipeline(defaultConfig(), profile);
  let state = emptyState();
  let samples = 0;
  const t0 = performance.now();
  for await (const s of readRecording(file)) {
    state = pipeline.run(s, state, { decisions: false }).state;
    samples += s.processes.length;
  }
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

function pipelineOnly(snapshots: Snapshot[], profile: string, rounds: number, decisions = false): { samples: number; seconds: number } {
  let samples = 0;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const pipeline = new Pipeline(defaultConfig(), profile);
    let state = emptyState();
    for (const s of snapshots) {
      state = pipeline.run(s, state, { decisions }).state;
      samples += s.processes.length;
    }
  }
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Peak RSS of a separate end-to-end run, and the heap still in use after a full GC at its end: what
 * the run retains, which must not grow with the recording's length (V8 sizes its heap lazily, so the
 * peak RSS of a longer run is somewhat higher even when nothing is retained).
 */
function memoryOf(file: string, profile: string): { peakRss: number; retained: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--measure-rss', file, '--profile', profile], { encoding: 'utf8' });
  const [peakRss, retained] = out.trim().split(' ').map(Number);
  return { peakRss: peakRss!, retained: retained! };
}

function synth(archetype: string, intervals: number, out: string): void {
  execFileSync(process.execPath, [CTL, 'synth', '--archetype', archetype, '--intervals', String(intervals), '--interval', '10', '--output', out], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      archetype: { type: 'string', default: 'k8s-node' },
      intervals: { type: 'string', default: '360' },
      profile: { type: 'string', default: 'balanced' },
      input: { type: 'string' },
      'measure-rss': { type: 'string' },
    },
  });
  if (values['measure-rss']) {
    // The same loop as endToEnd, holding the pipeline and its state while the heap is measured.
    const pipeline = new Pipeline(defaultConfig(), values.profile!);
    let state = emptyState();
    for await (const s of readRecording(values['measure-rss'])) state = pipeline.run(s, state, { decisions: false }).state;
    (globalThis as { gc?: () => void }).gc?.();
    console.log(`${process.resourceUsage().maxRSS * 1024} ${process.memoryUsage().heapUsed} ${state.processes.size} ${pipeline.profileName}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nrdot-bench-'));
  try {
    const intervals = Number(values.intervals);
    let file = values.input;
    if (!file) {
      file = join(dir, 'host.ndjson.gz');
      synth(values.archetype!, intervals, file);
    }
    const profile = values.profile!;
    await endToEnd(file, profile); // warm-up: JIT and file cache
    const e2e = await endToEnd(file, profile);
    const snapshots: Snapshot[] = [];
    for await (const s of readRecording(file)) snapshots.push(s);
    // Warm-up of both loops before either is measured.
    pipelineOnly(snapshots, profile, 2);
    pipelineOnly(snapshots, profile, 2, true);
    const alone = pipelineOnly(snapshots, profile, 3);
    const withDecisions = pipelineOnly(snapshots, profile, 3, true);
    const rate = (x: { samples: number; seconds: number }): number => Math.round(x.samples / x.seconds);
    console.log(`recording: ${values.input ?? `synth ${values.archetype}, ${intervals} intervals`}; ${snapshots.length} snapshots, ${e2e.samples} process-samples; profile ${profile}`);
    console.log(`end to end (gzip NDJSON in, KPIs out): ${rate(e2e).toLocaleString('en-US')} samples/s (target 250,000)`);
    console.log(`pipeline alone (snapshots in memory):  ${rate(alone).toLocaleString('en-US')} samples/s (target 1,000,000)`);
    console.log(`pipeline with decisions (as the agent runs it): ${rate(withDecisions).toLocaleString('en-US')} samples/s`);
    if (!values.input) {
      const longer = join(dir, 'longer.ndjson.gz');
      synth(values.archetype!, intervals * 10, longer);
      const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`;
      for (const [n, f] of [[intervals, file], [intervals * 10, longer]] as const) {
        const m = memoryOf(f, profile);
        console.log(`memory of simulate over ${n} intervals: peak RSS ${mb(m.peakRss)}, heap retained after GC ${mb(m.retained)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
