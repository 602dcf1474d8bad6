/**
 * The shipped defaults (SPEC, "Classification", "Profiles", "Files and defaults"). A user's
 * optimization.yaml is merged over these; `nrdot-plus-ctl config show` prints the result.
 */
import { DEFAULT_LISTEN } from './listen.js';
import type { ConfigFile, MetricSelector } from './schema.js';

/**
 * Client backends retitle themselves `postgres: [cluster: ]user db host(port) state` or `[local]`;
 * WAL senders (`walsender user host(port) streaming`) look alike but belong to the server.
 * Patterns are RE2 (no lookarounds): what must not match is a rule's `not`.
 */
const PG_CLIENT_SESSION = '^postgres: .*(\\(\\d+\\)|\\[local\\])';
const PG_WAL_SENDER = '^postgres: .*\\bwal ?sender\\b';
/** sshd's per-connection processes (`sshd: alice [priv]`, `sshd: alice@pts/0`), not its listener. */
const SSHD_CONNECTION = '^sshd: [^/\\[@ ]+(@| \\[)';

/** Metric sets of the SPEC's profile table. `process.cpu.time` has no wait state: snapshots carry no iowait. */
const FULL_SET: MetricSelector[] = ['process.cpu.time', 'process.memory.usage', 'process.memory.virtual', 'process.disk.io'];
const CPU_MEMORY: MetricSelector[] = ['process.cpu.time:user', 'process.cpu.time:system', 'process.memory.usage'];
const CPU_MEMORY_IO: MetricSelector[] = [...CPU_MEMORY, 'process.disk.io'];

export const DEFAULT_CONFIG: ConfigFile = {
  version: '2.0.0',
  schema_version: 1,
  state: { active_profile: 'balanced', experiment_ring: 0 },
  cost_model: {
    currency: 'USD',
    billing_model: 'bytes',
    per_gb: 0.3,
    per_million_datapoints: 0.25,
    collection_interval_seconds: 60,
  },
  critical_importance: 0.9,
  // Evaluated in this order, first match wins; the more specific tiers come first.
  process_classification: {
    noise: {
      score: 0.0,
      patterns: { linux: ['^(ps|ls|cat|grep|egrep|awk|gawk|mawk|sed|sleep|head|tail|wc|cut|sort|uniq|tr|true|false)$'] },
      rules: [{ kernel_thread: true }],
    },
    critical_system: {
      score: 1.0,
      patterns: { linux: ['^(init|systemd-.*|NetworkManager|chronyd|rsyslogd|journald)$'] },
      rules: [
        // The system manager, not the per-user managers (`systemd --user`) of login sessions.
        { name: '^systemd$', not: { cmdline: '^\\S*systemd --user' } },
        { name: '^sshd$', not: { cmdline: SSHD_CONNECTION } },
      ],
    },
    db_session: {
      score: 0.5,
      rules: [{ name: '^(postgres|postmaster)$', cmdline: PG_CLIENT_SESSION, not: { cmdline: PG_WAL_SENDER } }],
    },
    database: {
      score: 0.9,
      patterns: { common: ['^(postgres|postmaster|mysqld|mariadbd|mongod|mongos|redis-server|valkey-server|influxd|cockroach|clickhouse-serv)$'] },
      rules: [{ name: '^java$', cmdline: '(org\\.apache\\.cassandra|org\\.elasticsearch|org\\.opensearch)' }],
    },
    web_server: {
      score: 0.8,
      patterns: { common: ['^(nginx|apache2|httpd|haproxy|envoy|traefik|caddy|varnishd|lighttpd)$'] },
    },
    message_queue: {
      score: 0.8,
      patterns: { common: ['^(nats-server|mosquitto|rabbitmq-server)$'] },
      rules: [
        { name: '^beam\\.smp$', cmdline: 'rabbit' },
        { name: '^java$', cmdline: '(kafka\\.Kafka|org\\.apache\\.pulsar|activemq)' },
      ],
    },
    container: {
      score: 0.7,
      patterns: { linux: ['^(dockerd|containerd|containerd-shim.*|kubelet|kube-proxy|crio|conmon|podman)$'] },
    },
    ci_cd: {
      score: 0.4,
      patterns: { common: ['^(gitlab-runner|buildkite-agent|Runner\\.Listener|Runner\\.Worker)$'] },
      rules: [{ name: '^java$', cmdline: 'jenkins' }],
    },
    monitoring: {
      score: 0.3,
      patterns: { common: ['^(newrelic.*|nr-.*|datadog.*|agent|telegraf|prometheus|grafana.*|collectd|filebeat|metricbeat|otelcol.*|nrdot.*|node_exporter|process-exporte)$'] },
    },
    application: {
      score: 0.6,
      patterns: { common: ['^(java|python.*|ruby|node|dotnet|php-fpm.*|php|perl|beam\\.smp|gunicorn|uwsgi|puma)$'] },
    },
    utility: {
      score: 0.1,
      patterns: { linux: ['^(cron|crond|atd|anacron)$'] },
    },
  },
  custom_classification: {},
  force_collect: [],
  profiles: {
    conservative: {
      description: 'most visibility: every busy process and wide top-K',
      thresholds: { min_importance_score: 0.2, cpu_threshold_percent: 5, memory_threshold_mb: 256, io_threshold_kb_per_sec: 500 },
      limits: {
        max_series_per_host: 10000,
        top_k_per_class: { web: 20, app: 20, db_session: 10, container: 10, other: 5 },
        rollup_by: 'tier_executable',
        rollup_groups_per_tier: 6,
      },
      anomaly: { retention_minutes: 30 },
      metrics: {
        critical: FULL_SET,
        other: CPU_MEMORY_IO,
      },
      command_lines: true,
      sampling: { reservoir_size: 0 },
    },
    balanced: {
      description: 'recommended default',
      thresholds: { min_importance_score: 0.5, cpu_threshold_percent: 10, memory_threshold_mb: 512, io_threshold_kb_per_sec: 1000 },
      limits: {
        max_series_per_host: 5000,
        top_k_per_class: { web: 5, app: 5, db_session: 5, container: 3, other: 2 },
        rollup_by: 'tier_executable',
        rollup_groups_per_tier: 3,
      },
      anomaly: { retention_minutes: 15 },
      metrics: {
        critical: FULL_SET,
        other: CPU_MEMORY,
      },
      command_lines: true,
      sampling: { reservoir_size: 0 },
    },
    aggressive: {
      description: 'cost first: only busy, anomalous and critical processes',
      thresholds: { min_importance_score: 0.7, cpu_threshold_percent: 20, memory_threshold_mb: 1024, io_threshold_kb_per_sec: 5000 },
      limits: {
        max_series_per_host: 2000,
        top_k_per_class: { web: 3, app: 3, container: 2, other: 1 },
        rollup_by: 'tier',
        rollup_groups_per_tier: 1,
      },
      anomaly: { retention_minutes: 5 },
      metrics: {
        critical: CPU_MEMORY_IO,
        other: CPU_MEMORY,
      },
      command_lines: true,
      sampling: { reservoir_size: 0 },
    },
    minimal: {
      description: 'critical processes and heavy hitters only',
      thresholds: { min_importance_score: 0.9, cpu_threshold_percent: 50, memory_threshold_mb: 2048, io_threshold_kb_per_sec: 10000 },
      limits: { max_series_per_host: 500, top_k_per_class: {}, rollup_by: 'tier', rollup_groups_per_tier: 1 },
      anomaly: { retention_minutes: 5 },
      metrics: {
        critical: CPU_MEMORY_IO,
        other: CPU_MEMORY,
      },
      command_lines: true,
      sampling: { reservoir_size: 0 },
    },
    emergency: {
      description: 'budget breach: the least that keeps critical processes visible',
      thresholds: { min_importance_score: 0.9, cpu_threshold_percent: 50, memory_threshold_mb: 2048, io_threshold_kb_per_sec: 10000 },
      limits: { max_series_per_host: 300, top_k_per_class: {}, rollup_by: 'tier', rollup_groups_per_tier: 1 },
      anomaly: { retention_minutes: 0 },
      metrics: {
        critical: CPU_MEMORY,
        other: CPU_MEMORY,
      },
      command_lines: false,
      sampling: { reservoir_size: 0 },
    },
  },
  custom_profiles: {},
  control_loop: { enabled: false, check_interval: 30, target_reduction: 0.85, max_series: 2000, target_series: 1000, min_visibility: 0.15 },
  advanced: {
    ewma: { enabled: true, alpha: 0.2 },
    variance_detection: { enabled: true, threshold_multiplier: 2.0, warmup_intervals: 5, min_cpu_percent_change: 5, min_memory_mb_change: 50 },
    redaction: {
      secret_names: ['password', 'passwd', 'pwd', 'secret', 'token', 'apikey', 'api-key', 'api_key', 'key', 'credential', 'auth', 'authorization'],
    },
    time_based_rules: [],
    shadow_profiles: ['conservative', 'balanced', 'aggressive', 'minimal', 'emergency'],
  },
  exporters: {
    otlp: {
      endpoint: '',
      newrelic: 'auto',
      compression: 'gzip',
      timeout: '10s',
      temporality: 'delta',
      queue_max_mb: 256,
      retry: { initial_interval: '5s', max_interval: '5m' },
      max_requests_per_second: 2,
      splay: '30s',
    },
    file: { path: '', max_mb: 100 },
  },
  server: { listen: DEFAULT_LISTEN },
  webhooks: {},
  experiments: { enabled: false },
  fleet: { endpoint: '', labels: {}, headers: {}, certificate: '', client_certificate: '', client_key: '' },
};
