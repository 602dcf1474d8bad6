import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { defaultConfig } from '../config/index.js';
import { emptyState, Pipeline } from '../pipeline/index.js';
import type { ProcessSample, Snapshot } from '../snapshot/types.js';
import { renderPrometheus } from './prometheus.js';

const HOST = { id: 'h', name: 'h', cpus: 4, memory_bytes: 2 ** 33, boot_time: 1_700_000_000 };
const proc = (pid: number, name: string, cmdline: string, cpu: number): ProcessSample => ({
  pid, ppid: 1, name, exe: `/usr/bin/${name}`, cmdline, user: 'root', state: 'S', start_time: HOST.boot_time + 5,
  cpu_user_seconds: cpu, cpu_system_seconds: cpu / 4, rss_bytes: 5e6, vms_bytes: 1e8, threads: 1, fds: 4,
  io_read_bytes: cpu * 1000, io_write_bytes: 10, minor_faults: 1, major_faults: 0, ctx_voluntary: 1, ctx_involuntary: 0,
});
const snap = (t: number, cpu: number): Snapshot => ({
  schema: 'nrdot.snapshot/v1', host: HOST, timestamp: t,
  processes: [proc(1, 'systemd', '/sbin/init', cpu), proc(20, 'cron', '/usr/sbin/cron -f', cpu), proc(21, 'bash', '-bash "quote\\"', cpu), proc(22, 'bash', '-bash', cpu)],
});

/** Series -> value of one exposition. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('Prometheus exposition', () => {
  const p = new Pipeline(defaultConfig(), 'aggressive');
  let state = emptyState();
  const texts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = p.run(snap(HOST.boot_time + 1000 + i * 60, 10 + i * 5), state);
    state = r.state;
    texts.push(renderPrometheus(r.batch, r.kpis));
  }

  it('carries the self-metrics under the names SPEC gives them, with their types', () => {
    const text = texts[2]!;
    for (const name of ['nrdot_process_series_baseline', 'nrdot_process_series_kept', 'nrdot_process_coverage_critical', 'nrdot_estimated_cost_per_hour', 'nrdot_optimization_reduction_percent', 'nrdot_profile_active']) {
      assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'), name);
    }
    assert.match(text, /^nrdot_profile_active\{nrdot_profile="aggressive"\} 1$/m);
    assert.match(text, /^# TYPE process_cpu_time_seconds_total counter$/m);
    assert.match(text, /^process_cpu_time_seconds_total\{process_pid="1",process_executable_name="systemd",process_owner="root",nrdot_tier="critical_system",state="user"\} 20$/m);
  });

  it('keeps every counter monotonic from one interval to the next', () => {
    for (let i = 1; i < texts.length; i++) {
      const before = samples(texts[i - 1]!);
      for (const [series, value] of samples(texts[i]!)) {
        if (/_total\{/.test(series) && before.has(series)) assert.ok(value >= before.get(series)!, `${series}: ${before.get(series)} -> ${value}`);
      }
    }
  });

  it('passes promtool check metrics', { skip: existsSync('/usr/bin/promtool') ? undefined : 'promtool is not installed (apt-get install prometheus)' }, () => {
    const r = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: texts[2], encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
