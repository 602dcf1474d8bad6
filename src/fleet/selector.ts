// Kubernetes-style selectors for agents: `env=prod,role in (db,web),!canary`.
// A key is looked up in the agent's labels, then its non-identifying description attributes,
// then its identifying ones, so `service.name=...` and `host.name=...` work for any OpAMP agent.
// Used by the hub (configs, pins, rollouts, experiments) and the CLI (to check before sending).
import type { AttributeValue } from './codec.js';

export interface SelectorSubject {
  labels: Readonly<Record<string, string>>;
  nonIdentifying: Readonly<Record<string, AttributeValue>>;
  identifying: Readonly<Record<string, AttributeValue>>;
}

type Requirement =
  | { key: string; op: 'exists' | 'absent' }
  | { key: string; op: 'in' | 'notin'; values: readonly string[] };

export interface Selector {
  /** The selector as written (trimmed); '' selects every agent. */
  readonly text: string;
  matches(subject: SelectorSubject): boolean;
  /** The keys it reads, in order (for messages such as "no agent has label role"). */
  readonly keys: readonly string[];
}

export class SelectorError extends Error {
  constructor(
    readonly selector: string,
    readonly position: number,
    detail: string,
  ) {
    super(`selector "${selector}": ${detail} at character ${position + 1}`);
    this.name = 'SelectorError';
  }
}

/** Characters that end a key or a value. */
const STOP = new Set([',', '(', ')', '=', '!', ' ', '\t']);

export function parseSelector(text: string): Selector {
  const src = text.trim();
  const reqs: Requirement[] = [];
  let i = 0;
  const fail = (detail: string): never => {
    throw new SelectorError(src, i, detail);
  };
  const skipSpace = (): void => {
    while (src[i] === ' ' || src[i] === '\t') i++;
  };
  const word = (what: string): string => {
    skipSpace();
    const start = i;
    while (i < src.length && !STOP.has(src[i]!)) i++;
    if (i === start) fail(`expected ${what}${i < src.length ? `, found "${src[i]}"` : ', found the end'}`);
    return src.slice(start, i);
  };
  const keyword = (): string | null => {
    skipSpace();
    const m = /^(in|notin)(?=[\s(])/.exec(src.slice(i));
    if (!m) return null;
    i += m[1]!.length;
    return m[1]!;
  };
  const valueList = (): string[] => {
    skipSpace();
    if (src[i] !== '(') fail('expected "(" to open a list of values');
    i++;
    const values: string[] = [];
    for (;;) {
      values.push(word('a value'));
      skipSpace();
      if (src[i] === ',') {
        i++;
        continue;
      }
      if (src[i] === ')') {
        i++;
        return values;
      }
      fail('expected "," or ")" in a list of values');
    }
  };

  while (src.length > 0) {
    skipSpace();
    if (src[i] === '!') {
      i++;
      reqs.push({ key: word('a key after "!"'), op: 'absent' });
    } else {
      const key = word('a key');
      skipSpace();
      if (src.startsWith('==', i) || src[i] === '=') {
        i += src.startsWith('==', i) ? 2 : 1;
        reqs.push({ key, op: 'in', values: [word(`a value for ${key}`)] });
      } else if (src.startsWith('!=', i)) {
        i += 2;
        reqs.push({ key, op: 'notin', values: [word(`a value for ${key}`)] });
      } else {
        const kw = keyword();
        if (kw === 'in' || kw === 'notin') reqs.push({ key, op: kw, values: valueList() });
        else reqs.push({ key, op: 'exists' });
      }
    }
    skipSpace();
    if (i >= src.length) break;
    if (src[i] !== ',') fail(`expected "," between requirements, found "${src[i]}"`);
    i++;
    skipSpace();
    if (i >= src.length) fail('expected a requirement after ","');
  }

  return {
    text: src,
    keys: reqs.map((r) => r.key),
    matches(subject: SelectorSubject): boolean {
      for (const r of reqs) {
        const value = lookup(subject, r.key);
        switch (r.op) {
          case 'exists':
            if (value === undefined) return false;
            break;
          case 'absent':
            if (value !== undefined) return false;
            break;
          case 'in':
            if (value === undefined || !r.values.includes(value)) return false;
            break;
          case 'notin':
            if (value !== undefined && r.values.includes(value)) return false;
            break;
        }
      }
      return true;
    },
  };
}

function lookup(subject: SelectorSubject, key: string): string | undefined {
  const found = subject.labels[key] ?? subject.nonIdentifying[key] ?? subject.identifying[key];
  return found === undefined ? undefined : String(found);
}

/** Whether the text parses (for validation at the boundary); the error names the position. */
export function checkSelector(text: string): SelectorError | null {
  try {
    parseSelector(text);
    return null;
  } catch (err) {
    if (err instanceof SelectorError) return err;
    throw err;
  }
}

/** What a selector sees of an agent record (the hub's AgentRecord has these fields). */
export function subjectOf(agent: {
  labels: Readonly<Record<string, string>>;
  description: { identifying: Readonly<Record<string, AttributeValue>>; nonIdentifying: Readonly<Record<string, AttributeValue>> } | null;
}): SelectorSubject {
  return { labels: agent.labels, nonIdentifying: agent.description?.nonIdentifying ?? {}, identifying: agent.description?.identifying ?? {} };
}
