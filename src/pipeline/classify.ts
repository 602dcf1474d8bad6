/**
 * Classification (SPEC, "Classification"): custom tiers first, then the configured tiers in order;
 * the first matching pattern or rule wins, `default` when nothing matched. Static attributes are
 * frozen per identity, so a process is classified once and the answer cached.
 */
import type { Config, RuleConfig, TierConfig } from '../config/index.js';
import { compilePattern, type Pattern } from '../config/pattern.js';
import type { ProcessSample } from '../snapshot/types.js';

export const DEFAULT_TIER = 'default';
export const DEFAULT_SCORE = 0.3;

export interface Classification {
  tier: string;
  importance: number;
  critical: boolean;
  forced: boolean;
}

/** Patterns are RE2 (linear time in the text: names and command lines are any local user's to choose). */
interface CompiledRule {
  name?: Pattern;
  exe?: Pattern;
  cmdline?: Pattern;
  user?: Pattern;
  kernelThread?: boolean;
  not?: CompiledRule;
}

interface CompiledTier {
  tier: string;
  score: number;
  rules: CompiledRule[];
}

/** Kernel threads by structure: kthreadd itself or its children, with no exe and no command line. */
export function isKernelThread(p: ProcessSample): boolean {
  return (p.pid === 2 || p.ppid === 2) && p.exe === '' && p.cmdline === '';
}

function compileRule(rule: RuleConfig): CompiledRule {
  const out: CompiledRule = {};
  if (rule.name !== undefined) out.name = compilePattern(rule.name);
  if (rule.exe !== undefined) out.exe = compilePattern(rule.exe);
  if (rule.cmdline !== undefined) out.cmdline = compilePattern(rule.cmdline);
  if (rule.user !== undefined) out.user = compilePattern(rule.user);
  if (rule.kernel_thread !== undefined) out.kernelThread = rule.kernel_thread;
  if (rule.not !== undefined) out.not = compileRule(rule.not);
  return out;
}

function compileTier(tier: string, config: TierConfig): CompiledTier {
  const rules: CompiledRule[] = [];
  // Name patterns: this is a Linux agent, so the `linux` and platform-neutral lists apply.
  for (const [platform, patterns] of Object.entries(config.patterns)) {
    if (platform !== 'linux' && platform !== 'common') continue;
    for (const p of patterns) rules.push({ name: compilePattern(p) });
  }
  for (const rule of config.rules) rules.push(compileRule(rule));
  return { tier, score: config.score, rules };
}

function matches(rule: CompiledRule, p: ProcessSample): boolean {
  if (rule.kernelThread !== undefined && isKernelThread(p) !== rule.kernelThread) return false;
  if (rule.name && !rule.name.test(p.name)) return false;
  if (rule.exe && !rule.exe.test(p.exe)) return false;
  if (rule.cmdline && !rule.cmdline.test(p.cmdline)) return false;
  if (rule.user && !rule.user.test(p.user)) return false;
  return rule.not === undefined || !matches(rule.not, p);
}

export class Classifier {
  private readonly tiers: CompiledTier[];
  private readonly forceCollect: CompiledRule[];
  private readonly criticalImportance: number;
  private readonly scores = new Map<string, number>();

  constructor(config: Config) {
    this.tiers = [
      ...Object.entries(config.custom_classification).map(([t, c]) => compileTier(t, c)),
      ...Object.entries(config.process_classification).map(([t, c]) => compileTier(t, c)),
    ];
    for (const t of this.tiers) if (!this.scores.has(t.tier)) this.scores.set(t.tier, t.score);
    this.scores.set(DEFAULT_TIER, this.scores.get(DEFAULT_TIER) ?? DEFAULT_SCORE);
    this.forceCollect = config.force_collect.map(compileRule);
    this.criticalImportance = config.critical_importance;
  }

  /** The score of a tier (for tiers of a rollup and per-tier KPIs). */
  score(tier: string): number {
    return this.scores.get(tier) ?? DEFAULT_SCORE;
  }

  classify(p: ProcessSample): Classification {
    let tier = DEFAULT_TIER;
    let importance = this.score(DEFAULT_TIER);
    for (const t of this.tiers) {
      if (t.rules.some((r) => matches(r, p))) {
        tier = t.tier;
        importance = t.score;
        break;
      }
    }
    const forced = this.forceCollect.some((r) => matches(r, p));
    return { tier, importance, critical: importance >= this.criticalImportance, forced };
  }
}
