/**
 * The hosts of `nrdot-plus-ctl synth`: which processes run on each archetype, with their real names
 * (comm), executables, command lines (including the titles services give themselves after fork),
 * users, cgroups and usage. All four are Debian 12 machines (gcc 12, PostgreSQL 15, PHP 8.2,
 * Python 3.11) with the same base system: kernel threads, systemd and its services, sshd with one
 * interactive session, tmux, cron and a monitoring agent.
 *
 * Only types are imported from the engine (synth.ts), which calls build() with a HostBuilder.
 */
import type { Factory, HostBuilder, ProcHandle, Random, Template, Tick } from './synth-model.js';

export const ARCHETYPES = ['k8s-node', 'db-host', 'web-php', 'ci-runner'] as const;
export type Archetype = (typeof ARCHETYPES)[number];

export interface ArchetypeDef {
  summary: string;
  cpus: number;
  memoryGiB: number;
  /** Uptime at the first snapshot, hours (min, max). */
  uptimeHours: readonly [number, number];
  /** Processes forked per second that no snapshot sees: they only advance the pid counter. */
  forkRate: number;
  build(b: HostBuilder): void;
}

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

interface Ident {
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  cgroup: string | null;
}
type Usage = Partial<Omit<Template, keyof Ident>> & { cpu: number; rss: number };

function id(name: string, exe: string, cmdline: string, user: string, cgroup: string | null): Ident {
  return { name, exe, cmdline, user, cgroup };
}

function tpl(ident: Ident, u: Usage): Template {
  return { ...ident, vms: u.rss * 3 + 16 * MB, threads: 1, fds: 8, ...u };
}

const fixed = (ident: Ident, u: Usage): Factory => () => tpl(ident, u);
const system = (unit: string): string => `0::/system.slice/${unit}`;

/** Poisson arrivals: `fn` is called with a birth time inside the interval. */
function arrivals(b: HostBuilder, perSecond: number, fn: (tick: Tick, birth: number) => void): void {
  b.onTick((tick) => {
    const n = tick.rng.poisson(perSecond * (tick.to - tick.from));
    const births: number[] = [];
    for (let k = 0; k < n; k++) births.push(tick.rng.uniform(tick.from, tick.to));
    for (const at of births.sort((x, y) => x - y)) fn(tick, at);
  });
}

/** Every `period` seconds from `first`. */
function every(b: HostBuilder, period: number, first: number, fn: (tick: Tick, at: number) => void): void {
  let next = first;
  b.onTick((tick) => {
    for (; next < tick.to; next += period) if (next > tick.from) fn(tick, next);
  });
}

/** Short-lived children that no one reaps for a while: seen in state Z, without exe and command line. */
function zombies(b: HostBuilder, parent: ProcHandle, name: string, user: string, cgroup: string | null, perHour: number): void {
  const make = fixed(id(name, '', '', user, cgroup), { cpu: 0.05, rss: 2 * MB, fds: 4 });
  arrivals(b, perHour / 3600, (tick, at) => {
    tick.spawn(make, { parent, birth: at, end: at + tick.rng.uniform(0.01, 0.5), zombieFor: tick.rng.uniform(1, 3) * b.interval });
  });
}

const reindex = (user: string, cgroup: string | null): Factory => (r) =>
  tpl(id('python3', '/usr/bin/python3.11', 'python3 /opt/jobs/reindex.py', user, cgroup), {
    cpu: r.uniform(0.93, 0.97), cpuNoise: 0.015, rss: r.uniform(200, 400) * MB, rssNoise: 0.03, vms: 1.1 * GB, threads: 2, fds: 14,
    ioRead: 6 * MB, ioWrite: 512 * KB, faults: 400, ctx: 40,
  });

// ---------------------------------------------------------------------------------------------------
// Kernel threads and the base system

function kernelThreads(b: HostBuilder): void {
  const { rng, boot, cpus } = b;
  const kt = (name: string, cpu: number, ctx: number, idle = 'S'): Factory =>
    fixed(id(name, '', '', 'root', '0::/'), { cpu, cpuNoise: 0.5, rss: 0, vms: 0, fds: 0, ctx, kernel: true, idleState: idle });
  const kthreadd = b.proc(kt('kthreadd', 0.00005, 0.3), { start: boot, pid: 2, ppid: 0 });
  let at = boot;
  const add = (name: string, cpu: number, ctx: number, idle = 'S', start?: number): ProcHandle =>
    b.proc(kt(name, cpu, ctx, idle), { start: start ?? (at += rng.uniform(0.001, 0.01)), parent: kthreadd });
  for (const name of ['rcu_gp', 'rcu_par_gp', 'slub_flushwq', 'netns', 'kworker/0:0H-events_highpri', 'mm_percpu_wq', 'rcu_tasks_kthread', 'rcu_tasks_rude_kthread', 'rcu_tasks_trace_kthread']) add(name, 0, 0.001, 'I');
  add('ksoftirqd/0', 0.004, 15);
  add('rcu_preempt', 0.002, 60, 'I');
  add('migration/0', 0.0003, 4);
  add('cpuhp/0', 0, 0.001);
  for (let c = 1; c < cpus; c++) {
    add(`cpuhp/${c}`, 0, 0.001);
    add(`migration/${c}`, 0.0003, 4);
    add(`ksoftirqd/${c}`, 0.002, 8);
  }
  for (const name of ['kdevtmpfs', 'inet_frag_wq', 'kauditd', 'khungtaskd', 'oom_reaper', 'writeback', 'kcompactd0', 'ksmd', 'khugepaged', 'kintegrityd', 'kblockd', 'kswapd0', 'ipv6_addrconf', 'scsi_eh_0']) {
    add(name, name === 'khugepaged' || name === 'kcompactd0' ? 0.0002 : 0.00001, 0.05, ['inet_frag_wq', 'writeback', 'kintegrityd', 'kblockd', 'ipv6_addrconf'].includes(name) ? 'I' : 'S');
  }
  at += rng.uniform(1.5, 3);
  add('jbd2/vda1-8', 0.0005, 2);
  add('ext4-rsv-conver', 0, 0.001, 'I');
  const span = b.now - boot;
  if (cpus <= 8) for (let c = 0; c < cpus; c += 2) add(`kworker/${c}:1-events`, 0.0005, 20, 'I', boot + rng.uniform(0.3, 1) * span);
  const unbound = `kworker/u${cpus * 2}`;
  let seq = 0;
  const queues = ['events_unbound', 'flush-253:0', 'events_power_efficient', 'writeback', 'ext4-rsv-conversion'];
  const pool: ProcHandle[] = [];
  for (const wq of queues.slice(0, 4)) pool.push(add(`${unbound}:${seq++}-${wq}`, 0.001, 25, 'I', boot + rng.uniform(0.5, 1) * span));
  // Unbound workers come and go: one exits, another is forked by kthreadd.
  arrivals(b, 1 / 900, (tick, at) => {
    const alive = pool.filter((p) => tick.alive(p));
    if (alive.length > 0) tick.exit(tick.rng.pick(alive), at);
    pool.length = 0;
    pool.push(...alive.filter((p) => tick.alive(p)));
    pool.push(tick.spawn(kt(`${unbound}:${seq++}-${tick.rng.pick(queues)}`, 0.001, 25, 'I'), { parent: kthreadd, birth: at + tick.rng.uniform(0, 2), end: Infinity }));
  });
}

interface Base {
  init: ProcHandle;
  cron: ProcHandle;
  /** The boot sequence's clock: services started after the base system use next(). */
  next: (gap?: number) => number;
}

type Monitoring = (b: HostBuilder, init: ProcHandle, start: number) => void;

function baseSystem(b: HostBuilder, monitoring: Monitoring | null): Base {
  const { rng, boot, now } = b;
  const init = b.proc(fixed(id('systemd', '/usr/lib/systemd/systemd', '/sbin/init', 'root', '0::/init.scope'), { cpu: 0.002, rss: 13 * MB, vms: 168 * MB, fds: 120, ioRead: 200, ioWrite: 800, faults: 6, ctx: 3 }), { start: boot, pid: 1, ppid: 0 });
  kernelThreads(b);
  let at = boot + rng.uniform(2.5, 4);
  const next = (gap = 0.4): number => (at += rng.uniform(0.02, gap));
  const sys = (name: string, exe: string, cmdline: string, user: string, unit: string, u: Usage): ProcHandle =>
    b.proc(fixed(id(name, exe, cmdline, user, system(unit)), u), { start: next(), parent: init });
  sys('systemd-journal', '/usr/lib/systemd/systemd-journald', '/lib/systemd/systemd-journald', 'root', 'systemd-journald.service', { cpu: 0.004, rss: 40 * MB, vms: 96 * MB, fds: 52, ioWrite: 24 * KB, faults: 20, ctx: 12 });
  sys('systemd-udevd', '/usr/lib/systemd/systemd-udevd', '/lib/systemd/systemd-udevd', 'root', 'systemd-udevd.service', { cpu: 0.0003, rss: 8 * MB, vms: 26 * MB, fds: 18 });
  sys('systemd-network', '/usr/lib/systemd/systemd-networkd', '/lib/systemd/systemd-networkd', 'systemd-network', 'systemd-networkd.service', { cpu: 0.0004, rss: 9 * MB, vms: 18 * MB, fds: 20, ctx: 2 });
  sys('systemd-resolve', '/usr/lib/systemd/systemd-resolved', '/lib/systemd/systemd-resolved', 'systemd-resolve', 'systemd-resolved.service', { cpu: 0.001, rss: 14 * MB, vms: 24 * MB, fds: 23, ctx: 5 });
  sys('dbus-daemon', '/usr/bin/dbus-daemon', '/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only', 'messagebus', 'dbus.service', { cpu: 0.0005, rss: 5 * MB, vms: 10 * MB, fds: 26, ctx: 2 });
  sys('systemd-logind', '/usr/lib/systemd/systemd-logind', '/lib/systemd/systemd-logind', 'root', 'systemd-logind.service', { cpu: 0.0003, rss: 8 * MB, vms: 18 * MB, fds: 24 });
  sys('polkitd', '/usr/lib/polkit-1/polkitd', '/usr/lib/polkit-1/polkitd --no-debug', 'polkitd', 'polkit.service', { cpu: 0.0001, rss: 9 * MB, vms: 380 * MB, threads: 3, fds: 12 });
  sys('rsyslogd', '/usr/sbin/rsyslogd', '/usr/sbin/rsyslogd -n -iNONE', 'root', 'rsyslog.service', { cpu: 0.001, rss: 6 * MB, vms: 220 * MB, threads: 4, fds: 14, ioWrite: 6 * KB, ctx: 6 });
  sys('chronyd', '/usr/sbin/chronyd', '/usr/sbin/chronyd -F 1', '_chrony', 'chrony.service', { cpu: 0.0002, rss: 3 * MB, vms: 18 * MB, fds: 6, ctx: 0.5 });
  const cron = sys('cron', '/usr/sbin/cron', '/usr/sbin/cron -f', 'root', 'cron.service', { cpu: 0.0001, rss: 3 * MB, vms: 7 * MB, fds: 5, ctx: 0.1 });
  sys('irqbalance', '/usr/sbin/irqbalance', '/usr/sbin/irqbalance --foreground', 'root', 'irqbalance.service', { cpu: 0.0002, rss: 4 * MB, vms: 80 * MB, threads: 2, fds: 7 });
  sys('unattended-upgr', '/usr/bin/python3.11', '/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown --wait-for-signal', 'root', 'unattended-upgrades.service', { cpu: 0.00001, rss: 23 * MB, vms: 120 * MB, threads: 2, fds: 5 });
  const sshd = sys('sshd', '/usr/sbin/sshd', 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups', 'root', 'ssh.service', { cpu: 0.0002, rss: 9 * MB, vms: 15 * MB, fds: 5 });
  sys('agetty', '/usr/sbin/agetty', '/sbin/agetty -o -p -- \\u --noclear - linux', 'root', 'system-getty.slice/getty@tty1.service', { cpu: 0, rss: 2 * MB, vms: 6 * MB, fds: 5 });
  sys('agetty', '/usr/sbin/agetty', '/sbin/agetty -o -p -- \\u --keep-baud 115200,57600,38400,9600 - vt220', 'root', 'system-serial\\x2dgetty.slice/serial-getty@ttyS0.service', { cpu: 0, rss: 2 * MB, vms: 6 * MB, fds: 5 });
  if (monitoring) monitoring(b, init, next(2));

  // alice: an ssh session, her systemd --user, and a tmux server left from an earlier session.
  const session = rng.int(3, 40);
  const scope = `0::/user.slice/user-1000.slice/session-${session}.scope`;
  const userSvc = '0::/user.slice/user-1000.slice/user@1000.service/init.scope';
  const login = Math.max(boot + 1800, now - rng.uniform(1800, 8 * 3600));
  const tmuxStart = Math.max(boot + 900, login - rng.uniform(3600, 3 * 86400));
  const proc = (ident: Ident, u: Usage, start: number, parent: ProcHandle): ProcHandle => b.proc(fixed(ident, u), { start, parent });
  const small: Usage = { cpu: 0.00005, rss: 5 * MB, vms: 12 * MB, fds: 8 };
  const tmux = proc(id('tmux: server', '/usr/bin/tmux', 'tmux new-session -d -s ops', 'alice', `0::/user.slice/user-1000.slice/session-${session - rng.int(1, 2)}.scope`), { ...small, cpu: 0.0003, fds: 14 }, tmuxStart, init);
  const shells = [0, 1, 2].map((k) => proc(id('bash', '/usr/bin/bash', '-bash', 'alice', null), small, tmuxStart + 0.05 + k * rng.uniform(20, 600), tmux));
  const userd = proc(id('systemd', '/usr/lib/systemd/systemd', '/lib/systemd/systemd --user', 'alice', userSvc), { ...small, fds: 22, cpu: 0.0002 }, login + 0.15, init);
  proc(id('(sd-pam)', '/usr/lib/systemd/systemd', '(sd-pam)', 'alice', userSvc), small, login + 0.16, userd);
  const priv = proc(id('sshd', '/usr/sbin/sshd', 'sshd: alice [priv]', 'root', scope), small, login, sshd);
  const net = proc(id('sshd', '/usr/sbin/sshd', 'sshd: alice@pts/0', 'alice', scope), { ...small, cpu: 0.0003 }, login + 0.4, priv);
  const bash = proc(id('bash', '/usr/bin/bash', '-bash', 'alice', scope), small, login + 0.5, net);
  proc(id('tmux: client', '/usr/bin/tmux', 'tmux attach -t ops', 'alice', scope), small, login + rng.uniform(3, 20), bash);
  proc(id('vim', '/usr/bin/vim.basic', 'vim /etc/systemd/system/backup.service', 'alice', null), { ...small, rss: 11 * MB }, login + rng.uniform(60, 600), shells[0] as ProcHandle);
  proc(id('htop', '/usr/bin/htop', 'htop', 'alice', null), { ...small, cpu: 0.012, cpuNoise: 0.1, fds: 6 }, login + rng.uniform(30, 900), shells[1] as ProcHandle);
  // shells[2] runs `while true; do ...; sleep 30; done`: a new `sleep` identity every 30 s.
  const sleep = fixed(id('sleep', '/usr/bin/sleep', 'sleep 30', 'alice', null), { cpu: 0, rss: 1 * MB, vms: 6 * MB, fds: 3 });
  every(b, 30.004, now + rng.uniform(0, 30), (tick, t) => tick.spawn(sleep, { parent: shells[2], birth: t, end: t + 30 }));
  // Scanners knocking on sshd: a privileged and an unprivileged child for a few seconds.
  arrivals(b, 1 / 150, (tick, t) => {
    const life = Math.min(120, tick.rng.lognormal(2, 1));
    const user = tick.rng.pick(['root', 'admin', 'ubuntu', 'test']);
    const p = tick.spawn(fixed(id('sshd', '/usr/sbin/sshd', `sshd: ${user} [priv]`, 'root', system('ssh.service')), small), { parent: sshd, birth: t, end: t + life });
    tick.spawn(fixed(id('sshd', '/usr/sbin/sshd', `sshd: ${user} [net]`, 'sshd', system('ssh.service')), small), { parent: p, birth: t + 0.01, end: t + life - 0.01 });
  });
  return { init, cron, next };
}

const nodeExporter = (u: Partial<Usage> = {}): Monitoring => (b, init, start) => {
  b.proc(fixed(id('node_exporter', '/usr/local/bin/node_exporter', '/usr/local/bin/node_exporter --collector.systemd --web.listen-address=:9100', 'node_exporter', system('node_exporter.service')), { cpu: 0.004, cpuNoise: 0.3, rss: 22 * MB, vms: 1.2 * GB, threads: 7, fds: 11, ctx: 30, ...u }), { start, parent: init, role: u.cpuAbsNoise !== undefined ? 'subtle_shift' : undefined });
};

const newrelicInfra: Monitoring = (b, init, start) => {
  const svc = b.proc(fixed(id('newrelic-infra-', '/usr/bin/newrelic-infra-service', '/usr/bin/newrelic-infra-service', 'root', system('newrelic-infra.service')), { cpu: 0.0005, rss: 18 * MB, vms: 1.2 * GB, threads: 8, fds: 9 }), { start, parent: init });
  b.proc(fixed(id('newrelic-infra', '/usr/bin/newrelic-infra', '/usr/bin/newrelic-infra', 'root', system('newrelic-infra.service')), { cpu: 0.012, cpuNoise: 0.4, rss: 64 * MB, vms: 1.9 * GB, threads: 14, fds: 24, ioWrite: 4 * KB, ctx: 80 }), { start: start + 0.2, parent: svc });
};

// ---------------------------------------------------------------------------------------------------
// k8s-node

interface Pod {
  shim: ProcHandle;
  start: number;
  cg: (cid: string) => string;
}

function pod(b: HostBuilder, start: number, qos: 'burstable' | 'besteffort' = 'burstable'): Pod {
  const { rng } = b;
  const uid = `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-a${rng.hex(3)}-${rng.hex(12)}`.replaceAll('-', '_');
  const sandbox = rng.hex(64);
  const cg = (cid: string): string => `0::/kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${uid}.slice/cri-containerd-${cid}.scope`;
  const shim = b.proc(fixed(id('containerd-shim', '/usr/bin/containerd-shim-runc-v2', `/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id ${sandbox} -address /run/containerd/containerd.sock`, 'root', system('containerd.service')), { cpu: 0.0008, rss: 13 * MB, vms: 1.24 * GB, threads: 11, fds: 22, ctx: 6 }), { start, parent: null });
  b.proc(fixed(id('pause', '/pause', '/pause', '65535', cg(sandbox)), { cpu: 0, rss: 512 * KB, vms: 1 * MB, fds: 4 }), { start: start + 0.3, parent: shim });
  return { shim, start, cg };
}

function k8sNode(b: HostBuilder): void {
  const { rng, boot, now } = b;
  const base = baseSystem(b, null);
  const svc = (ident: Ident, u: Usage): ProcHandle => b.proc(fixed(ident, u), { start: base.next(3), parent: base.init });
  svc(id('containerd', '/usr/bin/containerd', '/usr/bin/containerd', 'root', system('containerd.service')), { cpu: 0.03, daily: true, rss: 92 * MB, vms: 2.6 * GB, threads: 46, fds: 310, ioWrite: 40 * KB, ctx: 300 });
  svc(id('kubelet', '/usr/bin/kubelet', '/usr/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml --container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=10.0.2.15', 'root', system('kubelet.service')), { cpu: 0.05, daily: true, rss: 128 * MB, vms: 2.3 * GB, threads: 52, fds: 95, ioWrite: 30 * KB, ctx: 500 });
  if (rng.chance(0.35)) svc(id('dockerd', '/usr/bin/dockerd', '/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock', 'root', system('docker.service')), { cpu: 0.002, rss: 70 * MB, vms: 2.1 * GB, threads: 24, fds: 40 });
  const sysPod = (): Pod => pod(b, boot + rng.uniform(40, 120));
  const appStart = (): number => rng.uniform(boot + 600, now - 900);
  const inPod = (p: Pod, offset: number, make: (cg: string, r: Random) => Template, opts: { parent?: ProcHandle; lifetime?: number; role?: 'cpu_spike' | 'memory_leak' | 'subtle_shift' } = {}): ProcHandle =>
    b.proc((r) => make(p.cg(r.hex(64)), r), { start: p.start + offset, parent: opts.parent ?? p.shim, lifetime: opts.lifetime, role: opts.role });
  const host = b.hostName;

  // System pods: kube-proxy, calico, coredns, fluent-bit, newrelic-infra, ingress-nginx, metrics-server.
  inPod(sysPod(), 1, (cg) => tpl(id('kube-proxy', '/usr/local/bin/kube-proxy', `/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf --hostname-override=${host}`, 'root', cg), { cpu: 0.004, rss: 52 * MB, vms: 1.3 * GB, threads: 12, fds: 18, ctx: 40 }));
  const calico = sysPod();
  const runsvdir = inPod(calico, 1, (cg) => tpl(id('runsvdir', '/usr/local/bin/runsvdir', '/usr/local/bin/runsvdir -P /etc/service/enabled', 'root', cg), { cpu: 0, rss: 1 * MB, vms: 2 * MB, fds: 5 }));
  for (const [service, cmd, cpu, rss] of [
    ['felix', 'calico-node -felix', 0.03, 70], ['confd', 'calico-node -confd', 0.004, 40], ['allocate-tunnel-addrs', 'calico-node -allocate-tunnel-addrs', 0.001, 35],
    ['bird', 'bird -R -s /var/run/calico/bird.ctl -d -c /etc/calico/confd/config/bird.cfg', 0.001, 2], ['bird6', 'bird6 -R -s /var/run/calico/bird6.ctl -d -c /etc/calico/confd/config/bird6.cfg', 0.0005, 1],
  ] as const) {
    const runsv = inPod(calico, 1.1, (cg) => tpl(id('runsv', '/usr/local/bin/runsv', `runsv ${service}`, 'root', cg), { cpu: 0, rss: 1 * MB, vms: 2 * MB, fds: 7 }), { parent: runsvdir });
    const exe = cmd.startsWith('calico') ? '/usr/bin/calico-node' : `/usr/bin/${cmd.split(' ')[0]}`;
    inPod(calico, 1.2, (cg) => tpl(id(cmd.split(' ')[0] as string, exe, cmd, 'root', cg), { cpu, daily: cpu > 0.01, rss: rss * MB, vms: rss * 30 * MB, threads: cpu > 0.001 ? 14 : 1, fds: 20, ctx: cpu * 3000 }), { parent: runsv });
  }
  inPod(sysPod(), 1, (cg) => tpl(id('coredns', '/coredns', '/coredns -conf /etc/coredns/Corefile', '65532', cg), { cpu: 0.003, daily: true, rss: 38 * MB, vms: 1.3 * GB, threads: 13, fds: 16, ctx: 60 }));
  inPod(sysPod(), 1, (cg) => tpl(id('fluent-bit', '/fluent-bit/bin/fluent-bit', '/fluent-bit/bin/fluent-bit -c /fluent-bit/etc/fluent-bit.conf', 'root', cg), { cpu: 0.02, daily: true, rss: 34 * MB, vms: 600 * MB, threads: 8, fds: 70, ioRead: 300 * KB, ctx: 200 }));
  inPod(sysPod(), 1, (cg) => tpl(id('newrelic-infra', '/usr/bin/newrelic-infra', '/usr/bin/newrelic-infra', 'root', cg), { cpu: 0.012, cpuNoise: 0.4, rss: 70 * MB, vms: 1.9 * GB, threads: 15, fds: 24, ctx: 90 }));
  const ingress = sysPod();
  const controller = inPod(ingress, 1, (cg) => tpl(id('nginx-ingress-c', '/nginx-ingress-controller', '/nginx-ingress-controller --publish-service=ingress-nginx/ingress-nginx-controller --election-id=ingress-nginx-leader --controller-class=k8s.io/ingress-nginx --configmap=ingress-nginx/ingress-nginx-controller', '101', cg), { cpu: 0.01, daily: true, rss: 90 * MB, vms: 1.4 * GB, threads: 18, fds: 60, ctx: 100 }));
  const master = inPod(ingress, 2, (cg) => tpl(id('nginx', '/usr/bin/nginx', 'nginx: master process /usr/bin/nginx -c /etc/nginx/nginx.conf', '101', cg), { cpu: 0.0005, rss: 40 * MB, vms: 180 * MB, fds: 30 }), { parent: controller });
  for (let k = 0; k < 4; k++) inPod(ingress, 2.1, (cg) => tpl(id('nginx', '/usr/bin/nginx', 'nginx: worker process', '101', cg), { cpu: 0.015, cpuNoise: 0.3, daily: true, rss: 60 * MB, vms: 190 * MB, fds: 200, ctx: 150 }), { parent: master });
  inPod(sysPod(), 1, (cg) => tpl(id('otelcol-contrib', '/otelcol-contrib', '/otelcol-contrib --config=/conf/relay.yaml', '10001', cg), { cpu: 0.015, daily: true, rss: 120 * MB, vms: 1.9 * GB, threads: 16, fds: 40, ctx: 150 }));
  inPod(pod(b, appStart()), 1, (cg) => tpl(id('kube-state-metr', '/kube-state-metrics', '/kube-state-metrics --port=8080 --telemetry-port=8081', '65534', cg), { cpu: 0.004, rss: 45 * MB, vms: 1.3 * GB, threads: 12, fds: 14 }));
  inPod(pod(b, appStart()), 1, (cg) => tpl(id('redis-server', '/usr/local/bin/redis-server', 'redis-server *:6379', '999', cg), { cpu: 0.006, daily: true, rss: 60 * MB, vms: 140 * MB, threads: 5, fds: 30, ctx: 80 }));
  inPod(sysPod(), 1, (cg) => tpl(id('metrics-server', '/metrics-server', '/metrics-server --cert-dir=/tmp --secure-port=10250 --kubelet-preferred-address-types=InternalIP --metric-resolution=15s', '65534', cg), { cpu: 0.003, rss: 30 * MB, vms: 1.3 * GB, threads: 12, fds: 14 }));

  // Applications: JVMs, Node services, gunicorn and plain Python workers; envoy sidecars in some pods.
  const envoy = (p: Pod, service: string): void => {
    inPod(p, 0.8, (cg, r) => tpl(id('envoy', '/usr/local/bin/envoy', `envoy -c /etc/envoy/envoy.yaml --service-cluster ${service} --service-node ${service}-${r.hex(10)} --log-level info`, '101', cg), { cpu: r.uniform(0.01, 0.04), daily: true, rss: r.uniform(40, 80) * MB, vms: 2.2 * GB, threads: b.cpus + 5, fds: r.int(100, 300), ctx: 300 }));
  };
  const javaNames = rng.shuffle(['orders', 'payments', 'inventory', 'catalog', 'shipping', 'billing', 'pricing', 'notifications', 'accounts']).slice(0, rng.int(7, 9));
  for (const service of ['audit', ...javaNames]) {
    const p = pod(b, appStart());
    const steady = service === 'audit';
    const cpu = steady ? 0.01 : rng.uniform(0.05, 0.4);
    const rss = rng.uniform(500, 2000) * MB;
    // Some images start the JVM under tini (a minimal init that reaps zombies).
    const tini = rng.chance(0.5) ? inPod(p, 1.4, (cg) => tpl(id('tini', '/usr/bin/tini', `/usr/bin/tini -- java -jar /app/${service}.jar`, '10001', cg), { cpu: 0, rss: 600 * KB, vms: 2 * MB, fds: 4 })) : undefined;
    inPod(p, 1.5, (cg, r) => tpl(id('java', '/opt/java/openjdk/bin/java', `java -XX:+UseG1GC -XX:MaxRAMPercentage=75.0 -Xmx2g -Dspring.profiles.active=prod -jar /app/${service}.jar --server.port=8080`, '10001', cg), {
      cpu, daily: !steady, ...(steady ? { cpuAbsNoise: 0.001 } : { cpuNoise: 0.25 }), rss, rssNoise: steady ? 0.002 : 0.02, vms: 5.6 * GB, threads: r.int(60, 180), fds: r.int(150, 400), ioWrite: 20 * KB, faults: 40, ctx: 400,
    }), { parent: tini, role: steady ? 'subtle_shift' : undefined });
    if (!steady && rng.chance(0.5)) envoy(p, service);
  }
  const nodeNames = rng.shuffle(['web-frontend', 'checkout-api', 'search-api', 'notifications-ws', 'graphql-gateway', 'cart', 'user-profile', 'recommendations', 'image-resizer']).slice(0, rng.int(7, 9));
  nodeNames.forEach((service, k) => {
    const p = pod(b, appStart());
    const node = (script: string, leak = false) => (cg: string, r: Random): Template => tpl(id('node', '/usr/local/bin/node', `node ${script}`, '10001', cg), { cpu: leak ? 0.05 : r.uniform(0.02, 0.2), daily: true, cpuNoise: 0.3, rss: (leak ? 240 : r.uniform(80, 400)) * MB, vms: 11 * GB, threads: r.int(11, 15), fds: r.int(25, 120), ioWrite: 2 * KB, faults: 30, ctx: 250 });
    if (k < 3) {
      // npm start -> sh -c node server.js -> node (npm retitles itself, which sets the comm).
      const npm = inPod(p, 1.5, (cg) => tpl(id('npm start', '/usr/local/bin/node', 'npm start', '10001', cg), { cpu: 0.0005, rss: 55 * MB, vms: 1 * GB, threads: 11, fds: 22 }));
      const sh = inPod(p, 2.2, (cg) => tpl(id('sh', '/usr/bin/dash', 'sh -c node server.js', '10001', cg), { cpu: 0, rss: 1 * MB, vms: 3 * MB, fds: 4 }), { parent: npm });
      inPod(p, 2.25, node('server.js'), { parent: sh });
      if (k === 0) zombies(b, npm, 'sh', '10001', null, 2);
    } else {
      inPod(p, 1.5, node(k === 3 ? '/app/server.js' : rng.pick(['/app/server.js', '--max-old-space-size=1024 dist/main.js'])), { lifetime: 3 * 86400, role: k === 3 ? 'memory_leak' : undefined });
    }
    if (rng.chance(0.4)) envoy(p, service);
  });
  const python = (cmd: string, cpu: number, rss: number, threads = 1, steady = false) => (cg: string): Template =>
    tpl(id('python3', '/usr/local/bin/python3.11', cmd, '10001', cg), { cpu, daily: !steady, cpuNoise: 0.3, rss: rss * MB, vms: rss * 4 * MB, threads, fds: 18, ioRead: 1 * KB, faults: 20, ctx: 80 });
  const gunicorns = rng.int(3, 5);
  let spikeGiven = false;
  for (let k = 0; k < gunicorns; k++) {
    const p = pod(b, appStart());
    const cmd = `python3 -m gunicorn app:app --workers 4 --bind 0.0.0.0:8000 --max-requests 1000`;
    const master = inPod(p, 1.5, python(cmd, 0.002, 42));
    for (let w = 0; w < 4; w++) {
      const spike = !spikeGiven;
      spikeGiven = true;
      inPod(p, 3 + w, (cg, r) => python(cmd, spike ? 0.03 : r.uniform(0.02, 0.15), r.uniform(80, 160))(cg), { parent: master, lifetime: spike ? undefined : 6 * 3600, role: spike ? 'cpu_spike' : undefined });
    }
  }
  for (let k = 0, n = rng.int(3, 5); k < n; k++) {
    const p = pod(b, appStart());
    const cid = rng.hex(64);
    b.proc((r) => python('python3 worker.py', r.uniform(0.01, 0.1), r.uniform(60, 200), 4)(p.cg(cid)), { start: p.start + 1.5, parent: p.shim });
    // Someone runs a reindex by hand in the first worker's container (kubectl exec).
    if (k === 0) b.runaway(reindex('10001', p.cg(cid)), p.shim);
  }

  // Churn: CronJob pods, exec probes through runc, kube-proxy's iptables-restore.
  arrivals(b, 1 / 900, (tick, t) => {
    const life = tick.rng.uniform(20, 100);
    const uid = tick.rng.hex(32);
    const cg = `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid}.slice/cri-containerd-${tick.rng.hex(64)}.scope`;
    const shim = tick.spawn(fixed(id('containerd-shim', '/usr/bin/containerd-shim-runc-v2', `/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id ${tick.rng.hex(64)} -address /run/containerd/containerd.sock`, 'root', system('containerd.service')), { cpu: 0.001, rss: 12 * MB, vms: 1.24 * GB, threads: 10, fds: 20 }), { birth: t, end: t + life + 3 });
    tick.spawn(fixed(id('pause', '/pause', '/pause', '65535', cg), { cpu: 0, rss: 512 * KB, vms: 1 * MB, fds: 4 }), { parent: shim, birth: t + 0.3, end: t + life + 2.5 });
    tick.spawn(() => python('python3 /app/jobs/cleanup_sessions.py --older-than 7d', 0.4, 70, 1, true)(cg), { parent: shim, birth: t + 1.5, end: t + life });
  });
  arrivals(b, 0.3, (tick, t) => tick.spawn(fixed(id('runc', '/usr/bin/runc', `runc --root /run/containerd/runc/k8s.io --log /run/containerd/io.containerd.runtime.v2.task/k8s.io/${tick.rng.hex(64)}/log.json --log-format json exec --process /tmp/runc-process${tick.rng.int(100000000, 999999999)} --detach --pid-file /run/containerd/io.containerd.runtime.v2.task/k8s.io/exec.pid`, 'root', system('containerd.service')), { cpu: 0.2, rss: 10 * MB, threads: 7, fds: 10 }), { birth: t, end: t + tick.rng.lognormal(0.08, 0.5) }));
}

// ---------------------------------------------------------------------------------------------------
// db-host

function dbHost(b: HostBuilder): void {
  const { rng, now } = b;
  const base = baseSystem(b, newrelicInfra);
  const cg = system('system-postgresql.slice/postgresql@15-main.service');
  const pgStart = base.next(5);
  const shared = 8.6 * GB;
  const pg = (title: string, u: Usage): Factory => fixed(id('postgres', '/usr/lib/postgresql/15/bin/postgres', title, 'postgres', cg), { vms: shared, fds: 12, ...u });
  const postmaster = b.proc(pg('/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf', { cpu: 0.002, rss: 38 * MB, fds: 14, ctx: 10 }), { start: pgStart, parent: base.init });
  const worker = (title: string, u: Usage, start = pgStart + rng.uniform(0.05, 0.3)): ProcHandle => b.proc(pg(`postgres: 15/main: ${title}`, u), { start, parent: postmaster });
  worker('checkpointer', { cpu: 0.004, rss: 2.1 * GB, ioWrite: 2 * MB, blocking: 0.1, ctx: 20 });
  worker('background writer', { cpu: 0.002, rss: 640 * MB, ioWrite: 300 * KB, blocking: 0.05, ctx: 15 });
  worker('walwriter', { cpu: 0.003, daily: true, rss: 40 * MB, ioWrite: 1 * MB, blocking: 0.05, ctx: 60 });
  worker('autovacuum launcher', { cpu: 0.0003, rss: 12 * MB });
  worker('logical replication launcher', { cpu: 0.00005, rss: 9 * MB });
  worker('walsender replicator 10.0.0.12(43210) streaming 0/3000000', { cpu: 0.008, daily: true, rss: 21 * MB, ioRead: 1 * MB, ctx: 200 }, rng.uniform(pgStart + 60, now - 3600));

  // Client backends: mostly pgbouncer's server connections from 127.0.0.1, a few direct ones.
  const backend = (user: string, db: string, from: () => string, status: string, cpu: number, u: Partial<Usage> = {}): Factory => (r) =>
    tpl(id('postgres', '/usr/lib/postgresql/15/bin/postgres', `postgres: 15/main: ${user} ${db} ${from()}(${r.int(32768, 60999)}) ${status}`, 'postgres', cg), {
      cpu, daily: true, cpuNoise: 0.5, rss: r.uniform(10, 30) * MB, vms: shared, fds: r.int(14, 40), ioRead: cpu * 2 * MB, faults: 5, ctx: 5 + cpu * 2000, ...u,
    });
  const local = (): string => '127.0.0.1';
  const lan = (): string => `10.0.1.${rng.int(20, 60)}`;
  const connected = (max: number): number => now - rng.uniform(10, max);
  const count = rng.int(295, 315);
  for (let k = 0; k < count; k++) {
    const roll = rng.next();
    let make: Factory;
    let lifetime = 3600;
    let role: 'cpu_spike' | 'memory_leak' | undefined;
    if (k === 0) {
      make = backend('reporting', 'analytics', lan, 'idle', 0.02, { cpuNoise: 0.25, rss: 24 * MB });
      role = 'cpu_spike';
    } else if (k === 1) {
      make = backend('app', 'shop', local, 'idle in transaction', 0.003, { rss: 26 * MB, rssNoise: 0.005 });
      role = 'memory_leak';
    } else if (roll < 0.05) make = backend('app', 'shop', local, 'active', rng.uniform(0.05, 0.25));
    else if (roll < 0.09) make = backend('app', 'shop', local, 'idle in transaction', rng.uniform(0.001, 0.004));
    else if (roll < 0.18) {
      make = backend(rng.pick(['reporting', 'metabase']), 'analytics', lan, 'idle', rng.uniform(0.001, 0.01));
      lifetime = 1200;
    } else make = backend('app', 'shop', local, 'idle', rng.uniform(0.0005, 0.006));
    b.proc(make, { start: connected(role ? 7200 : lifetime), parent: postmaster, lifetime: role ? undefined : lifetime, role });
  }
  const login = now - rng.uniform(600, 3600);
  b.proc(pg('postgres: 15/main: postgres shop [local] idle', { cpu: 0.0001, rss: 14 * MB }), { start: login, parent: postmaster });
  b.proc(fixed(id('pgbouncer', '/usr/sbin/pgbouncer', '/usr/sbin/pgbouncer /etc/pgbouncer/pgbouncer.ini', 'postgres', system('pgbouncer.service')), { cpu: 0.01, cpuAbsNoise: 0.001, rss: 12 * MB, rssNoise: 0.002, vms: 28 * MB, fds: 640, ctx: 900 }), { start: base.next(5), parent: base.init, role: 'subtle_shift' });
  const exporter = b.proc(fixed(id('postgres_export', '/usr/local/bin/postgres_exporter', '/usr/local/bin/postgres_exporter --web.listen-address=:9187 --collector.stat_statements', 'postgres', system('postgres_exporter.service')), { cpu: 0.003, rss: 24 * MB, vms: 1.3 * GB, threads: 9, fds: 12, ctx: 20 }), { start: base.next(5), parent: base.init });
  b.proc(fixed(id('psql', '/usr/lib/postgresql/15/bin/psql', 'psql -U postgres shop', 'alice', null), { cpu: 0, rss: 9 * MB, vms: 30 * MB, fds: 5 }), { start: login - 0.05, parent: base.init });
  b.runaway(reindex('postgres', system('cron.service')), base.cron);
  zombies(b, exporter, 'pg_isready', 'postgres', null, 1);

  // Autovacuum workers: the launcher asks the postmaster for one about every naptime.
  arrivals(b, 1 / 45, (tick, t) => {
    const db = tick.rng.pick(['shop', 'shop', 'analytics']);
    tick.spawn(pg(`postgres: 15/main: autovacuum worker ${db}`, { cpu: 0.3, cpuNoise: 0.3, rss: 30 * MB, ioRead: 30 * MB, ioWrite: 2 * MB, blocking: 0.3, ctx: 400 }), { parent: postmaster, birth: t, end: t + Math.min(600, tick.rng.lognormal(4, 1.3)) });
  });
}

// ---------------------------------------------------------------------------------------------------
// web-php

function webPhp(b: HostBuilder): void {
  const { rng, now } = b;
  const base = baseSystem(b, nodeExporter());
  const nginxCg = system('nginx.service');
  const nginxStart = base.next(3);
  const master = b.proc(fixed(id('nginx', '/usr/sbin/nginx', 'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;', 'root', nginxCg), { cpu: 0.0002, rss: 9 * MB, vms: 70 * MB, fds: 20 }), { start: nginxStart, parent: base.init });
  // Workers are respawned on each reload (logrotate's nightly one included).
  const reload = now - rng.uniform(600, 20 * 3600);
  for (let k = 0; k < 8; k++) {
    b.proc((r) => tpl(id('nginx', '/usr/sbin/nginx', 'nginx: worker process', 'www-data', nginxCg), { cpu: r.uniform(0.01, 0.04), daily: true, cpuNoise: 0.3, rss: r.uniform(15, 30) * MB, vms: 72 * MB, fds: r.int(100, 400), ioWrite: 40 * KB, ctx: 300 }), { start: reload + k * 0.001, parent: master });
  }
  const fpmCg = system('php8.2-fpm.service');
  const fpm = b.proc(fixed(id('php-fpm8.2', '/usr/sbin/php-fpm8.2', 'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)', 'root', fpmCg), { cpu: 0.003, rss: 38 * MB, vms: 260 * MB, fds: 14, ctx: 10 }), { start: base.next(3), parent: base.init });
  const fpmWorker = (cpu: number, rss: number, noise: number): Factory => (r) =>
    tpl(id('php-fpm8.2', '/usr/sbin/php-fpm8.2', 'php-fpm: pool www', 'www-data', fpmCg), { cpu: cpu || r.uniform(0.01, 0.04), daily: true, cpuNoise: noise, rss: (rss || r.uniform(40, 80)) * MB, rssNoise: 0.02, vms: 300 * MB, fds: r.int(12, 20), ioRead: 8 * KB, faults: 60, ctx: 150 });
  // pm = static, pm.max_children = 100, pm.max_requests = 500: each worker is recycled after a while.
  for (let k = 0; k < 100; k++) {
    const role = k === 17 ? 'cpu_spike' : k === 42 ? 'memory_leak' : undefined;
    const make = role === 'cpu_spike' ? fpmWorker(0.03, 0, 0.25) : role === 'memory_leak' ? fpmWorker(0, 60, 0.5) : fpmWorker(0, 0, 0.7);
    b.proc(make, { start: now - rng.uniform(60, 4 * 3600), parent: fpm, lifetime: role ? undefined : 4 * 3600, role });
  }
  b.proc(fixed(id('redis-server', '/usr/bin/redis-server', '/usr/bin/redis-server 127.0.0.1:6379', 'redis', system('redis-server.service')), { cpu: 0.01, cpuAbsNoise: 0.001, rss: 180 * MB, rssNoise: 0.002, vms: 400 * MB, threads: 5, fds: 40, ioWrite: 20 * KB, ctx: 100 }), { start: base.next(3), parent: base.init, role: 'subtle_shift' });
  b.proc(fixed(id('memcached', '/usr/bin/memcached', '/usr/bin/memcached -m 1024 -p 11211 -u memcache -l 127.0.0.1 -P /var/run/memcached/memcached.pid', 'memcache', system('memcached.service')), { cpu: 0.004, daily: true, rss: 310 * MB, vms: 1.4 * GB, threads: 10, fds: 60, ctx: 200 }), { start: base.next(3), parent: base.init });
  b.proc(fixed(id('mariadbd', '/usr/sbin/mariadbd', '/usr/sbin/mariadbd', 'mysql', system('mariadb.service')), { cpu: 0.05, daily: true, cpuNoise: 0.3, rss: 1.2 * GB, vms: 3.1 * GB, threads: 34, fds: 120, ioRead: 100 * KB, ioWrite: 500 * KB, blocking: 0.02, ctx: 600 }), { start: base.next(3), parent: base.init });
  const supervisor = b.proc(fixed(id('supervisord', '/usr/bin/python3.11', '/usr/bin/python3 /usr/bin/supervisord -n -c /etc/supervisor/supervisord.conf', 'root', system('supervisor.service')), { cpu: 0.0005, rss: 24 * MB, vms: 34 * MB, fds: 12 }), { start: base.next(3), parent: base.init });
  for (let k = 0; k < 4; k++) {
    b.proc((r) => tpl(id('php', '/usr/bin/php8.2', 'php /var/www/app/artisan queue:work redis --sleep=3 --tries=3 --max-time=3600', 'www-data', system('supervisor.service')), { cpu: r.uniform(0.005, 0.05), daily: true, cpuNoise: 0.5, rss: r.uniform(50, 90) * MB, vms: 300 * MB, fds: 12, ctx: 30 }), { start: now - rng.uniform(60, 3600), parent: supervisor, lifetime: 3600 });
  }
  zombies(b, supervisor, 'php', 'www-data', null, 1);
  b.runaway(reindex('www-data', system('cron.service')), base.cron);
  // cron runs Laravel's scheduler every minute: sh -c -> php artisan schedule:run.
  every(b, 60, Math.ceil(b.now / 60) * 60 + 0.4, (tick, t) => {
    const life = tick.rng.lognormal(1.5, 0.8);
    const sh = tick.spawn(fixed(id('sh', '/usr/bin/dash', '/bin/sh -c cd /var/www/app && php artisan schedule:run >> /dev/null 2>&1', 'www-data', system('cron.service')), { cpu: 0, rss: 1 * MB, vms: 3 * MB, fds: 4 }), { parent: base.cron, birth: t, end: t + life + 0.02 });
    tick.spawn(fixed(id('php', '/usr/bin/php8.2', 'php artisan schedule:run', 'www-data', system('cron.service')), { cpu: 0.6, rss: 45 * MB, vms: 250 * MB, fds: 9 }), { parent: sh, birth: t + 0.01, end: t + life });
  });
}

// ---------------------------------------------------------------------------------------------------
// ci-runner

const GCC = '/usr/lib/gcc/x86_64-linux-gnu/12';
const RUN_CG = system('gitlab-runner.service');
const DIRS = ['net', 'core', 'util', 'http', 'json', 'crypto', 'db', 'io', 'proto', 'cache', 'sched', 'auth'] as const;
const FILES = ['parser', 'buffer', 'client', 'server', 'hash', 'pool', 'queue', 'codec', 'config', 'stream', 'table', 'timer', 'log', 'map'] as const;
const CRATES = ['serde', 'tokio', 'hyper', 'regex', 'syn', 'rustls', 'futures-util', 'tracing', 'sqlx', 'clap', 'prost', 'axum'] as const;
type JobKind = 'c' | 'cpp' | 'rust' | 'go';
interface Task {
  make: Factory;
  life: number;
}

function task(kind: JobKind, project: string, r: Random): Task {
  const src = (ext: string): string => `src/${r.pick(DIRS)}/${r.pick(FILES)}.${ext}`;
  const u = 'gitlab-runner';
  const roll = r.next();
  const compile = (name: 'cc1' | 'cc1plus', ext: string): Task => {
    const file = src(ext);
    return {
      life: Math.min(400, r.lognormal(name === 'cc1' ? 7 : 14, 0.9)),
      make: (q) => tpl(id(name, `${GCC}/${name}`, `${GCC}/${name} -quiet -I include -I build/gen ${file} -quiet -dumpdir build/ -dumpbase ${file.split('/').pop() ?? file} -mtune=generic -march=x86-64 -O2 -Wall -o /tmp/cc${q.hex(6)}.s`, u, RUN_CG), { cpu: q.uniform(0.86, 0.98), cpuNoise: 0.03, userShare: 0.92, rss: q.uniform(name === 'cc1' ? 40 : 150, name === 'cc1' ? 250 : 900) * MB, rssNoise: 0.05, fds: 5, ioWrite: 200 * KB, faults: 8000, ctx: 3 }),
    };
  };
  const as: Task = { life: r.lognormal(0.6, 0.6), make: (q) => tpl(id('as', '/usr/bin/x86_64-linux-gnu-as', `as --64 -o build/${q.pick(FILES)}.o /tmp/cc${q.hex(6)}.s`, u, RUN_CG), { cpu: 0.7, rss: 12 * MB, fds: 5, faults: 2000 }) };
  const ld: Task = { life: r.lognormal(6, 0.7), make: (q) => tpl(id('ld', '/usr/bin/x86_64-linux-gnu-ld.bfd', `/usr/bin/ld -plugin ${GCC}/liblto_plugin.so --build-id --eh-frame-hdr -m elf_x86_64 -pie -o build/${project} ${GCC}/../../../x86_64-linux-gnu/Scrt1.o build/*.o -lpthread -lssl -lcrypto`, u, RUN_CG), { cpu: 0.95, cpuNoise: 0.03, rss: q.uniform(200, 800) * MB, fds: 60, ioWrite: 2 * MB, faults: 9000 }) };
  const sh: Task = { life: r.lognormal(0.08, 0.8), make: (q) => tpl(id('sh', '/usr/bin/dash', `/bin/sh -c mkdir -p build/${q.pick(DIRS)} && touch build/.stamp`, u, RUN_CG), { cpu: 0.1, rss: 1 * MB, vms: 3 * MB, fds: 4 }) };
  const submake: Task = { life: r.lognormal(20, 0.7), make: (q) => tpl(id('make', '/usr/bin/make', `make -C src/${q.pick(DIRS)} all`, u, RUN_CG), { cpu: 0.02, rss: 4 * MB, fds: 8 }) };
  switch (kind) {
    case 'c':
      return roll < 0.62 ? compile('cc1', 'c') : roll < 0.82 ? as : roll < 0.92 ? sh : roll < 0.95 ? submake : ld;
    case 'cpp':
      return roll < 0.6 ? compile('cc1plus', 'cpp') : roll < 0.7 ? compile('cc1', 'c') : roll < 0.9 ? as : roll < 0.95 ? sh : ld;
    case 'rust': {
      if (roll >= 0.8) return roll < 0.92 ? compile('cc1', 'c') : roll < 0.95 ? as : ld;
      const crate = r.pick(CRATES);
      return {
        life: Math.min(600, r.lognormal(12, 1)),
        make: (q) => tpl(id('rustc', '/home/gitlab-runner/.rustup/toolchains/1.83.0-x86_64-unknown-linux-gnu/bin/rustc', `rustc --crate-name ${crate.replace('-', '_')} --edition=2021 /home/gitlab-runner/.cargo/registry/src/index.crates.io-6f17d22bba15001f/${crate}-1.${q.int(0, 40)}.${q.int(0, 9)}/src/lib.rs --error-format=json --crate-type lib --emit=dep-info,metadata,link -C opt-level=3 -C embed-bitcode=no -C metadata=${q.hex(16)} --out-dir /builds/${project}/target/release/deps -L dependency=/builds/${project}/target/release/deps --cap-lints allow`, u, RUN_CG), {
          cpu: q.uniform(0.9, 2.5), cpuNoise: 0.1, userShare: 0.9, rss: q.uniform(150, 1500) * MB, rssNoise: 0.05, vms: 3 * GB, threads: q.int(4, 16), fds: 30, ioWrite: 1 * MB, faults: 12000, ctx: 50,
        }),
      };
    }
    case 'go': {
      if (roll >= 0.7) return roll < 0.85 ? compile('cc1', 'c') : roll < 0.9 ? as : sh;
      const pkg = r.pick(DIRS);
      return { life: Math.min(600, r.lognormal(15, 0.8)), make: (q) => tpl(id('go', '/usr/local/go/bin/go', `go test -count=1 ./internal/${pkg}/...`, u, RUN_CG), { cpu: q.uniform(0.8, 1.8), cpuNoise: 0.15, rss: q.uniform(150, 500) * MB, vms: 2 * GB, threads: q.int(10, 20), fds: 20, ioWrite: 500 * KB, faults: 6000, ctx: 500 }) };
    }
  }
}

interface Job {
  kind: JobKind;
  project: string;
  main: ProcHandle;
  mainEnd: number;
  end: number;
  workers: number[];
}

function ciRunner(b: HostBuilder): void {
  const { rng, now } = b;
  const base = baseSystem(b, nodeExporter({ cpu: 0.01, cpuAbsNoise: 0.001, rssNoise: 0.002 }));
  const svc = (ident: Ident, u: Usage, role?: 'cpu_spike' | 'memory_leak'): ProcHandle => b.proc(fixed(ident, u), { start: base.next(3), parent: base.init, role });
  svc(id('containerd', '/usr/bin/containerd', '/usr/bin/containerd', 'root', system('containerd.service')), { cpu: 0.004, rss: 45 * MB, vms: 2.1 * GB, threads: 18, fds: 40, ctx: 30 });
  svc(id('dockerd', '/usr/bin/dockerd', '/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock', 'root', system('docker.service')), { cpu: 0.006, daily: true, rss: 80 * MB, vms: 2.4 * GB, threads: 26, fds: 60, ctx: 60 });
  const runner = svc(id('gitlab-runner', '/usr/bin/gitlab-runner', '/usr/bin/gitlab-runner run --working-directory /home/gitlab-runner --config /etc/gitlab-runner/config.toml --service gitlab-runner --user gitlab-runner', 'root', RUN_CG), { cpu: 0.02, cpuNoise: 0.25, rss: 60 * MB, rssNoise: 0.01, vms: 1.5 * GB, threads: 16, fds: 30, ctx: 200 }, 'cpu_spike');
  b.proc(fixed(id('java', '/usr/lib/jvm/java-17-openjdk-amd64/bin/java', 'java -XX:MaxMetaspaceSize=384m -XX:+HeapDumpOnOutOfMemoryError -Xms256m -Xmx2g -Dfile.encoding=UTF-8 -Duser.country -Duser.language=en -Duser.variant -cp /home/gitlab-runner/.gradle/wrapper/dists/gradle-8.5-bin/5t9huq95ubn472n8rpzujfbqh/gradle-8.5/lib/gradle-launcher-8.5.jar -javaagent:/home/gitlab-runner/.gradle/wrapper/dists/gradle-8.5-bin/5t9huq95ubn472n8rpzujfbqh/gradle-8.5/lib/agents/gradle-instrumentation-agent-8.5.jar org.gradle.launcher.daemon.bootstrap.GradleDaemon 8.5', 'gitlab-runner', RUN_CG), { cpu: 0.015, cpuNoise: 0.3, rss: 900 * MB, rssNoise: 0.005, vms: 5 * GB, threads: 48, fds: 180, faults: 20, ctx: 100 }), { start: Math.max(b.boot + 600, now - rng.uniform(3600, 10 * 3600)), parent: runner, role: 'memory_leak' });
  b.runaway(reindex('root', system('cron.service')), base.cron);

  // Four concurrent jobs (shell executor): bash -> make/cargo -> a storm of compilers.
  const projects = ['libnet', 'api-gateway', 'search-core', 'billing-engine', 'edge-proxy', 'ledger', 'media-transcoder'];
  const slots: { job: Job | null; nextAt: number }[] = [0, 1, 2, 3].map(() => ({ job: null, nextAt: b.now + rng.uniform(0, 240) }));
  const startJob = (tick: Tick, at: number): Job => {
    const r = tick.rng;
    const roll = r.next();
    const kind: JobKind = roll < 0.45 ? 'c' : roll < 0.65 ? 'cpp' : roll < 0.85 ? 'rust' : 'go';
    const project = r.pick(projects);
    const end = at + Math.min(1500, Math.max(120, r.lognormal(420, 0.4)));
    const bash = tick.spawn(fixed(id('bash', '/usr/bin/bash', 'bash --login', 'gitlab-runner', RUN_CG), { cpu: 0.001, rss: 5 * MB, vms: 12 * MB, fds: 6 }), { parent: runner, birth: at, end });
    tick.spawn(fixed(id('git', '/usr/bin/git', 'git fetch origin --prune --quiet', 'gitlab-runner', RUN_CG), { cpu: 0.4, rss: 30 * MB, fds: 12, ioWrite: 4 * MB }), { parent: bash, birth: at + 0.2, end: at + 0.2 + r.uniform(1, 6) });
    const mainAt = at + r.uniform(7, 15);
    const mainEnd = end - r.uniform(0.5, 3);
    const jobsN = kind === 'go' ? 4 : 6;
    const cmd = kind === 'rust' ? ['cargo', '/home/gitlab-runner/.cargo/bin/cargo', 'cargo build --release --locked'] : ['make', '/usr/bin/make', kind === 'go' ? `make -j${jobsN} test` : `make -j${jobsN} all`];
    const main = tick.spawn(fixed(id(cmd[0] as string, cmd[1] as string, cmd[2] as string, 'gitlab-runner', RUN_CG), { cpu: kind === 'rust' ? 0.05 : 0.01, rss: kind === 'rust' ? 120 * MB : 6 * MB, fds: 12, ctx: 20 }), { parent: bash, birth: mainAt, end: mainEnd });
    return { kind, project, main, mainEnd, end, workers: Array.from({ length: jobsN }, (_, w) => mainAt + 0.3 + w * 0.05) };
  };
  b.onTick((tick) => {
    for (const slot of slots) {
      for (;;) {
        if (!slot.job) {
          if (slot.nextAt >= tick.to) break;
          slot.job = startJob(tick, slot.nextAt);
        }
        const job = slot.job;
        const limit = Math.min(tick.to, job.mainEnd - 0.2);
        job.workers = job.workers.map((start) => {
          let at = start;
          while (at < limit) {
            const t = task(job.kind, job.project, tick.rng);
            const end = Math.min(at + t.life, job.mainEnd - 0.05);
            tick.spawn(t.make, { parent: job.main, birth: at, end });
            at = end + tick.rng.uniform(0.005, 0.15);
          }
          return at;
        });
        if (job.end > tick.to) break;
        slot.job = null;
        slot.nextAt = job.end + tick.rng.uniform(5, 60);
      }
    }
  });
  zombies(b, runner, 'sh', 'gitlab-runner', null, 1);
}

export const ARCHETYPE_DEFS: Record<Archetype, ArchetypeDef> = {
  'k8s-node': { summary: 'Kubernetes worker: kubelet, containerd, ~30 pods (JVMs, Node, gunicorn, envoy, calico)', cpus: 16, memoryGiB: 64, uptimeHours: [24, 144], forkRate: 4, build: k8sNode },
  'db-host': { summary: 'PostgreSQL 15 primary with ~300 client backends behind pgbouncer', cpus: 16, memoryGiB: 64, uptimeHours: [120, 720], forkRate: 0.8, build: dbHost },
  'web-php': { summary: 'nginx + php-fpm 8.2 (100 workers), redis, memcached, mariadb', cpus: 8, memoryGiB: 32, uptimeHours: [24, 240], forkRate: 3, build: webPhp },
  'ci-runner': { summary: 'gitlab-runner (shell executor) with a storm of short-lived compilers every interval', cpus: 16, memoryGiB: 64, uptimeHours: [4, 30], forkRate: 6, build: ciRunner },
};
