/**
 * The agent measuring itself: its CPU share of one core since the previous interval and its resident
 * memory, as KPIs (agent_cpu_percent, agent_rss_bytes) and as self-metrics sent with every batch.
 */
import type { Metric } from '../pipeline/index.js';

export interface SelfUsage {
  /** CPU time over wall time since the previous reading, in percent of one core (null: first reading). */
  cpuPercent: number | null;
  rssBytes: number;
  /** Highest resident memory seen by these readings. */
  peakRssBytes: number;
}

export class SelfMeter {
  private cpu = process.cpuUsage();
  private wall = performance.now();
  private first = true;
  private peak = 0;
  /** The latest reading (for status). */
  last: SelfUsage = { cpuPercent: null, rssBytes: 0, peakRssBytes: 0 };

  /** Reads the usage since the previous call. */
  read(): SelfUsage {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const usedMs = (cpu.user - this.cpu.user + cpu.system - this.cpu.system) / 1000;
    const elapsedMs = wall - this.wall;
    const cpuPercent = this.first || elapsedMs <= 0 ? null : (usedMs / elapsedMs) * 100;
    this.cpu = cpu;
    this.wall = wall;
    this.first = false;
    const rssBytes = process.memoryUsage.rss();
    this.peak = Math.max(this.peak, rssBytes);
    this.last = { cpuPercent, rssBytes, peakRssBytes: this.peak };
    return this.last;
  }
}

/** The self-metrics of a reading (the CPU gauge is left out until there is a share to report). */
export function selfUsageMetrics(u: SelfUsage): Metric[] {
  const out: Metric[] = [];
  if (u.cpuPercent !== null) {
    out.push({
      name: 'nrdot.agent.cpu.utilization',
      unit: '1',
      description: 'CPU used by the agent since the previous interval, as a share of one core.',
      kind: 'gauge',
      monotonic: false,
      integer: false,
      points: [{ attributes: null, value: u.cpuPercent / 100 }],
    });
  }
  out.push({
    name: 'nrdot.agent.memory.rss',
    unit: 'By',
    description: 'Resident memory of the agent.',
    kind: 'gauge',
    monotonic: false,
    integer: true,
    points: [{ attributes: null, value: u.rssBytes }],
  });
  return out;
}
