import { RE2JS } from 're2js';

/*
 * Signer patterns (cosign identity and issuer regexps) come from module owners and are matched during
 * ingest, so they run on RE2 (re2js): matching takes time linear in the value, whatever the pattern. V8's
 * backtracking engine would let a pattern such as `(.*.*)*X` stall ingest for minutes on a short identity.
 *
 * RE2 syntax is the common subset of JavaScript's: no backreferences and no lookarounds. Patterns without
 * those mean the same on identities and issuers (URIs and e-mail addresses), so policies written for the
 * JavaScript engine keep matching what they matched.
 */

/** A pattern compiled to match a whole value in linear time. */
export interface TrustPattern {
  /** The pattern as its author wrote it, before anchoring. */
  readonly source: string;
  /** The matching engine: RE2, linear in the length of the value. */
  readonly engine: 're2';
  /** True when the whole `value` matches. */
  test(value: string): boolean;
}

/** Why a pattern was refused: empty, or not RE2 syntax (on its own, or once anchored). */
export type TrustPatternRule = 'trust_pattern_required' | 'trust_pattern_compiles';

export type TrustPatternCompilation = { ok: true; pattern: TrustPattern } | { ok: false; rule: TrustPatternRule; reason: string };

/** The anchored form a pattern is matched as: `a|b` stays inside the anchors. */
export function anchorTrustPattern(pattern: string): string {
  return `^(?:${pattern})$`;
}

/**
 * Compiles a signer pattern so that it must match the entire value. The pattern must parse on its own first:
 * otherwise `x)|(.*evil` would close the anchoring group and accept any value ending in `evil`.
 */
export function compileTrustPattern(pattern: string): TrustPatternCompilation {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    return { ok: false, rule: 'trust_pattern_required', reason: 'is empty: give the pattern the signer must match' };
  }
  let compiled: RE2JS;
  try {
    RE2JS.compile(pattern);
    // `\Q` quotes up to the end of the text, so a pattern that parses alone may still swallow the anchors.
    compiled = RE2JS.compile(anchorTrustPattern(pattern));
  } catch (error) {
    return {
      ok: false,
      rule: 'trust_pattern_compiles',
      reason: `is not a valid RE2 regular expression (${(error as Error).message}): backreferences (\\1) and lookarounds ((?=, (?!, (?<=, (?<!) are not supported, and parentheses must balance`,
    };
  }
  return { ok: true, pattern: { source: pattern, engine: 're2', test: (value) => compiled.test(value) } };
}
