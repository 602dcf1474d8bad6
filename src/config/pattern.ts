/**
 * Configured regular expressions (tier patterns and rules, force_collect, redaction patterns) run on
 * text that any local user controls: process names, executables, command lines, user names. They are
 * compiled with RE2 (re2js, pure JavaScript), which matches in time linear in the text whatever the
 * pattern, so no pattern and no process can make a match take quadratic or exponential time, as
 * JavaScript's backtracking RegExp can. RE2 syntax is JavaScript's without lookarounds
 * (`(?=`, `(?!`, `(?<=`, `(?<!`) and backreferences (`\1`); a rule's `not` replaces a negative lookahead.
 */
import { RE2JS } from 're2js';

export type Pattern = RE2JS;

/** Compiles a configured pattern; throws an Error whose message says what RE2 cannot take. */
export function compilePattern(source: string): Pattern {
  try {
    return RE2JS.compile(source);
  } catch (err) {
    throw new Error((err as Error).message.replace(/^error parsing regexp: /, ''));
  }
}
