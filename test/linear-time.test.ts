/**
 * Every function that runs a regular expression (or a scan) on text a process controls (its name,
 * executable, command line, user) takes time linear in that text: on adversarial strings of 1 MB,
 * built from the characters the patterns care about, each call finishes within a bound that linear
 * code meets a hundred times over and quadratic code misses by minutes (issue 12: the old
 * URL-credential regex took 13 s for 512 KB of `a.a.a.…`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultConfig, parseConfig } from '../src/config/index.js';
import { Classifier } from '../src/pipeline/classify.js';
import { emptyState, Pipeline } from '../src/pipeline/index.js';
import { redactUrlPasswords, Redactor } from '../src/pipeline/redact.js';
import { groupName } from '../src/pipeline/rollup.js';
import { joinCmdline, newStatFields, oneLineCgroup, parseStat } from '../src/procfs/parse.js';
import { boundCmdline } from '../src/snapshot/cmdline.js';
import type { ProcessSample, Snapshot } from '../src/snapshot/types.js';

const MB = 1 << 20;
/** Per call, on 1 MB: linear code takes milliseconds; the quadratic regex took minutes. */
const BOUND_MS = 2_000;
const RUNS = 6;

/** Characters the patterns and scans look for: scheme and word characters, separators, credentials' punctuation. */
const ALPHABET = ['a', 'A', '1', '_', '.', '-', '+', ':', '/', '@', '=', ' ', '\t', '\n', '(', ')', '[', ']', '\0', 'é', 'p', 's', 'w', 'd'];

/** A short unit of those characters, repeated to 1 MB (a run of `a.` or `://a:` is what hurt backtracking). */
const adversarial = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 12 })
  .map((unit) => unit.join('').repeat(Math.ceil(MB / unit.length)).slice(0, MB));

/** Known worst cases of the old code, besides the generated ones. */
const KNOWN = [
  ...['a.', 'a://', 'a://a:', 'a://a:a', '-', '--password', 'x:'].map((u) => u.repeat(Math.ceil(MB / u.length)).slice(0, MB)),
  // A run of one character that ends in a mismatch: `^(a+)+$` on it never ends in a backtracking engine.
  `${'a'.repeat(MB - 1)}!`,
];

function timed(what: string, f: () => unknown): void {
  const started = performance.now();
  f();
  const ms = performance.now() - started;
  assert.ok(ms < BOUND_MS, `${what} took ${Math.round(ms)} ms on 1 MB`);
}

function check(what: string, f: (text: string) => unknown): void {
  for (const text of KNOWN) timed(`${what} (${JSON.stringify(text.slice(0, 8))}…)`, () => f(text));
  fc.assert(
    fc.property(adversarial, (text) => timed(`${what} (${JSON.stringify(text.slice(0, 12))}…)`, () => f(text))),
    { numRuns: RUNS },
  );
}

const HOST = { id: 'h1', name: 'h1', cpus: 4, memory_bytes: 8 * 2 ** 30, boot_time: 1_700_000_000 };
function proc(pid: number, text: string): ProcessSample {
  return {
    pid, ppid: 1, name: text, exe: text, cmdline: text, user: text, state: 'S', start_time: HOST.boot_time + pid,
    cpu_user_seconds: 1, cpu_system_seconds: 1, rss_bytes: 2 ** 20, vms_bytes: 2 ** 24, threads: 1, fds: 3,
    io_read_bytes: 0, io_write_bytes: 0, minor_faults: 0, major_faults: 0, ctx_voluntary: 0, ctx_involuntary: 0,
  };
}

/** The shipped tiers, and configured patterns of the shapes that make a backtracking engine blow up. */
const config = parseConfig(
  [
    'custom_classification:',
    '  payments: { score: 0.9, patterns: { common: ["^(a+)+$", "^(a|aa)*b$", "(.*a){10}x"] }, rules: [{ cmdline: "(a+)+:", user: "([a-z]+)*@" }, { exe: "(a|a)*/", not: { cmdline: "(.*\\\\.)*z" } }] }',
    'force_collect: [{ cmdline: "^(\\\\w+\\\\.)+x$" }]',
    'advanced: { redaction: { secret_names: [password, token, secret, key], patterns: ["(a+)+b", "AKIA[0-9A-Z]{16}", "(\\\\w+://)+@"] } }',
    '',
  ].join('\n'),
  'hostile.yaml',
);

describe('linear time on process-controlled text (1 MB adversarial strings)', () => {
  it('redaction: the shipped rules, URL credentials and configured patterns', () => {
    const r = new Redactor(config.advanced.redaction.secret_names, config.advanced.redaction.patterns);
    check('Redactor.redact', (t) => r.redact(t));
    check('redactUrlPasswords', redactUrlPasswords);
    // The same with the text made of many arguments (the redactor works token by token).
    check('Redactor.redact (spaced)', (t) => r.redact(t.replaceAll('.', ' ')));
  });

  it('classification: shipped and configured tier patterns, rules and force_collect on name, exe, cmdline and user', () => {
    const c = new Classifier(config);
    const d = new Classifier(defaultConfig());
    check('Classifier.classify', (t) => c.classify(proc(100, t)));
    check('Classifier.classify (defaults)', (t) => d.classify(proc(100, t)));
  });

  it('the pipeline entry: the command line bound, rollup group names, a whole run', () => {
    check('boundCmdline', boundCmdline);
    check('groupName', (t) => groupName({ ...proc(100, t), exe: '' }));
    const pipeline = new Pipeline(config, 'balanced');
    let state = emptyState();
    let t0 = HOST.boot_time + 1000;
    check('Pipeline.run', (t) => {
      const snapshot: Snapshot = { schema: 'nrdot.snapshot/v1', host: HOST, timestamp: (t0 += 10), processes: [proc(100 + (t0 % 1000), t)] };
      state = pipeline.run(snapshot, state).state;
    });
  });

  it('procfs parsing: command line, cgroup, stat', () => {
    check('joinCmdline', (t) => joinCmdline(Buffer.from(t.replaceAll(' ', '\0'))));
    check('oneLineCgroup', oneLineCgroup);
    check('parseStat', (t) => {
      const b = Buffer.from(`42 (${t}) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 100 1000000 200 18446744073709551615\n`);
      parseStat(b, b.length, newStatFields());
    });
  });
});
