/**
 * `node dist/bench/redact.js [--lines N]`: what the one redaction (src/config/secrets.ts) costs the
 * logger, which runs every line through it. A configuration with many secrets (license key, three
 * header values, five webhooks with secrets and Slack-style URLs, an endpoint with a query, a proxy
 * with credentials) is compiled once; then N lines of three kinds are scrubbed: the agent's interval
 * line (no secret, no URL), a start line (URLs), and an error quoting an echoing backend (secrets in
 * several forms). Prints the compile time and microseconds per line of each kind, the time for the
 * largest API answer (a week of KPI rows), and what the logger's lines of a 10 s interval cost as a
 * share of one core (the agent's budget is 1%).
 */
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/index.js';
import { Redactor } from '../src/config/secrets.js';

const { values } = parseArgs({ options: { lines: { type: 'string', default: '20000' } } });
const lines = Number(values.lines);

const KEY = 'eu01xxAbCdEf0123456789SecretKeyNRAL';
const hooks = ['profile_change', 'rollback', 'budget_exceeded', 'series_exceeded', 'coverage_violation']
  .map((e, i) => `  ${e}: { url: "https://hooks.slack.com/services/T0000000${i}/B0000000${i}/abcdefghijklmnopqrstuvw${i}", secret: "whsec-0123456789abcdef-${i}" }`)
  .join('\n');
const config = parseConfig(
  `exporters: { otlp: { endpoint: "https://collector.example:4318/?sig=QUERYSIGNATURE42", headers: { x-honeycomb-team: HONEYSECRET0123, authorization: "Bearer tok-0123456789abcdef", x-scope: tenant-42-secret } } }\nwebhooks:\n${hooks}\n`,
  'bench.yaml',
);
const env = { NEW_RELIC_LICENSE_KEY: KEY, HTTPS_PROXY: 'http://proxyuser:PROXYPASS0123@proxy.example:3128' };

const t0 = performance.now();
const redactor = Redactor.of(config, env);
const compileMs = performance.now() - t0;

const kinds: Record<string, string> = {
  interval:
    '{"level":30,"time":"2026-11-26T06:21:25.138Z","pid":4242,"name":"nrdot-plus","processes":412,"vanished":0,"permission_errors":0,"permission_errors_by_kind":{},"other_errors":0,"read_ms":4.2,"profile":"balanced","datapoints_baseline":2884,"datapoints_exported":203,"reduction_datapoints":0.93,"cost_per_hour_baseline":0.0105,"cost_per_hour_optimized":0.0006,"coverage_critical":1,"agent_cpu_percent":0.21,"agent_rss_bytes":86818816,"shadow_cpu_ms":2.4,"msg":"collected 412 processes in 4.2 ms, 0 permission errors muted; balanced: 203 of 2884 datapoints (-93.0%)"}\n',
  start:
    '{"level":30,"time":"2026-11-26T06:21:25.138Z","pid":4242,"name":"nrdot-plus","otlp_endpoint":"https://collector.example:4318/v1/metrics?***","listen":"127.0.0.1:8887","msg":"nrdot-plus 0.1.0 started: reading /proc every 10 s, profile balanced, sending OTLP to https://collector.example:4318/v1/metrics?***; Prometheus metrics at http://127.0.0.1:8887/metrics, API at /api/v1"}\n',
  echo: `{"level":50,"time":"2026-11-26T06:21:25.138Z","pid":4242,"name":"nrdot-plus","otlp_endpoint":"https://collector.example:4318/v1/metrics?***","status":"403","msg":"OTLP export rejected by https://collector.example:4318/v1/metrics?***: 403 (denied; key ${KEY.toLowerCase()} (${Buffer.from(KEY).toString('base64')}); headers {\\"authorization\\":\\"Bearer tok-0123456789abcdef\\"}) (check the license key or api-key header)"}\n`,
};

console.log(`redaction of log lines: ${lines} lines per kind, configuration compiled in ${compileMs.toFixed(2)} ms`);
const perLine: Record<string, number> = {};
for (const [kind, line] of Object.entries(kinds)) {
  for (let i = 0; i < 1000; i++) redactor.scrub(line); // warm-up
  const start = performance.now();
  for (let i = 0; i < lines; i++) redactor.scrub(line);
  const us = ((performance.now() - start) * 1000) / lines;
  perLine[kind] = us;
  console.log(`${kind.padEnd(9)} ${String(line.length).padStart(4)} bytes  ${us.toFixed(2)} us per line  -> ${redactor.scrub(line) === line ? 'unchanged' : 'scrubbed'}`);
}
// The largest API answer: a week of raw KPI rows at 60 s (10080, the most one answer carries).
const rows = Array.from({ length: 10080 }, (_, i) => ({
  time: 1_764_115_200 + i * 60, profile: 'balanced', datapoints_baseline: 2884, datapoints_exported: 203, reduction_datapoints: 0.93,
  cost_per_hour_baseline: 0.0105, cost_per_hour_optimized: 0.0006, coverage_critical: 1, agent_cpu_percent: 0.21, agent_rss_bytes: 86_818_816,
}));
const answer = JSON.stringify({ resolution: 'raw', rows });
const times: number[] = [];
for (let i = 0; i < 7; i++) {
  const start = performance.now();
  redactor.scrub(answer);
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
console.log(`API answer of 10080 KPI rows (${(answer.length / 1e6).toFixed(1)} MB): median ${times[3]!.toFixed(1)} ms of 7`);
// At info level the agent logs one interval line per interval; count ten lines to be generous.
const share = (10 * perLine.interval!) / 1e6 / 10;
console.log(`ten interval lines per 10 s interval: ${(share * 100).toFixed(5)}% of a core (budget 1%)`);
