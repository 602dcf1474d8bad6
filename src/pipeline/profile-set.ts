/**
 * Other profiles on the snapshots a Pipeline runs, for their KPIs only (the agent's shadow profiles).
 * Stage 1 (classification, rates, anomaly statistics) depends on the configuration alone, so they
 * take the pipeline's: after each of its runs, stages 2-4 run for every profile of the set, each with
 * its own memory per identity (anomaly retention, top-K incumbency), rollup carry and series
 * sightings. Each profile's KPIs are exactly those a Pipeline of it alone reports over the same
 * snapshots (tested), at a fraction of the cost and memory. The set's state is held here, not
 * persisted.
 */
import type { Config } from '../config/index.js';
import { profileParts, type Pipeline, type ProfileCarry, type ProfileParts, type RunOptions } from './pipeline.js';
import type { Kpis, ProfileMemory } from './types.js';
import type { View } from './view.js';

interface Member {
  parts: ProfileParts;
  /** The profile's own memory per identity, by pid (an entry whose start differs is an earlier identity's). */
  memory: Map<number, ProfileMemory>;
  carry: ProfileCarry;
}

const freshCarry = (): ProfileCarry => ({ rollups: new Map(), seriesSeen: new Map(), seriesUnique: 0 });

export class ProfileSet {
  private members = new Map<string, Member>();

  constructor(config: Config, names: readonly string[]) {
    this.setConfig(config, names);
  }

  /** The profiles, in the order given. */
  get names(): string[] {
    return [...this.members.keys()];
  }

  /**
   * A new configuration or list, from the next run on (the pipeline's configuration must be the
   * same). A profile still listed keeps what it remembers, as a pipeline's state across a reload.
   */
  setConfig(config: Config, names: readonly string[]): void {
    const next = new Map<string, Member>();
    for (const name of names) {
      const had = this.members.get(name);
      next.set(name, { parts: profileParts(config, name), memory: had?.memory ?? new Map(), carry: had?.carry ?? freshCarry() });
    }
    this.members = next;
  }

  /** Forgets what a profile remembers itself: it starts afresh at its next run (the rates are the pipeline's). */
  reset(name: string): void {
    const m = this.members.get(name);
    if (m) {
      m.memory = new Map();
      m.carry = freshCarry();
    }
  }

  /**
   * After `pipeline` ran a snapshot: runs every profile of the set but `skip` (which forgets what it
   * remembered, see reset) on what the pipeline observed, and returns their KPIs in the set's order.
   * The pipeline's own results and state are not touched.
   */
  run(pipeline: Pipeline, options: Omit<RunOptions, 'decisions' | 'agent'> & { skip?: string } = {}): Kpis[] {
    const observed = pipeline.observed;
    if (observed === null) throw new Error('a profile set runs after its pipeline has run');
    if (options.skip !== undefined) this.reset(options.skip);
    const kpis: Kpis[] = [];
    for (const [name, m] of this.members) {
      if (name === options.skip) continue;
      const memory = m.memory;
      const memoryOf = (v: View): ProfileMemory => {
        let pm = memory.get(v.p.pid);
        if (pm === undefined || pm.start !== v.p.start_time) {
          pm = { start: v.p.start_time, anomalyUntil: 0, inTopK: false };
          memory.set(v.p.pid, pm);
        }
        return pm;
      };
      const result = observed.engine.decide(observed.obs, m.parts, memoryOf, m.carry, { ...options, decisions: false });
      m.carry = result.carry;
      kpis.push(result.kpis);
    }
    // A profile forgets an identity when the pipeline does. (One whose pid was reused was replaced
    // when the new one was seen: every profile that ran saw every process.)
    if (observed.forgotten > 0) {
      for (const m of this.members.values()) {
        for (const [pid, pm] of m.memory) if (observed.processes.get(pid)?.start !== pm.start) m.memory.delete(pid);
      }
    }
    return kpis;
  }
}
