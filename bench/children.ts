/**
 * The child processes a benchmark starts: each is registered until it exits and killed by pid (never
 * by name) on success, on error, on SIGINT/SIGTERM and, as a last resort, when the benchmark exits.
 * Temporary directories registered here are removed on the way out too. A benchmark killed with
 * SIGKILL runs none of this: its children carry a parent-death signal of their own for that.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const live = new Map<number, ChildProcess>();
const scratch = new Set<string>();
let stopping = false;

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** True once a signal is stopping the benchmark (failures of killed children are then expected). */
export function isStopping(): boolean {
  return stopping;
}

export function track(child: ChildProcess, what: string): ChildProcess {
  // Without a listener a failed spawn would throw asynchronously; the missing pid reports it here.
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${what}`);
  live.set(pid, child);
  child.once('exit', () => live.delete(pid));
  if (stopping) process.kill(pid, 'SIGKILL'); // started by the main flow while a signal stops us
  return child;
}

export function isLive(pid: number): boolean {
  return live.has(pid);
}

/** A directory removed when the benchmark ends, however it ends (short of SIGKILL). */
export function scratchDir(dir: string): string {
  scratch.add(dir);
  return dir;
}

export function removeScratch(): void {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  scratch.clear();
}

/** Synchronous, so it also works from 'exit' and signal handlers. */
function killAll(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** SIGKILLs these children (those still running) and waits until each has exited. */
export async function killAndWait(children: ChildProcess[]): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of children) {
    const pid = child.pid;
    if (pid === undefined || !live.has(pid)) continue;
    waits.push(new Promise((done) => child.once('exit', done)));
    process.kill(pid, 'SIGKILL');
  }
  await Promise.all(waits);
}

/** Every child still running, killed and waited for. */
export function killEverything(): Promise<void> {
  return killAndWait([...live.values()]);
}

/** On a signal: kill everything and reap it (no zombies left behind), remove scratch, exit. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write('stopping: killing every child process\n');
  for (const deadline = Date.now() + 5000; live.size > 0 && Date.now() < deadline; await sleep(20)) killAll();
  process.exit(code);
}

export function cleanUpOnExit(): void {
  process.on('exit', () => {
    killAll(); // last resort: uncaught errors, process.exit from anywhere
    removeScratch();
  });
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
}
