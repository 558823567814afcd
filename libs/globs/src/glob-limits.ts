import { PowernodeError } from '@powernode/contracts';
import { abbreviateGlob, GlobSyntaxError } from './glob-syntax-error.js';

/*
 * Bounds on what one glob, one glob list and one overlap check may cost. Matching is linear in
 * pattern × path whatever the pattern, but the overlap check explores the product of two glob automata, and
 * the catalog, the gateway and every agent evaluate globs written by module authors: without bounds, one
 * manifest of a few kilobytes could keep a process busy for seconds. The bounds sit far above what real
 * modules write (the reference modules use globs of at most 50 characters with 2 wildcards, and 20 globs per
 * list).
 */
export const GLOB_LIMITS = {
  /** Characters (code points) in one glob. */
  maxLength: 512,
  /** Wildcards (`*`, `**`, `?`, `[...]`) in one glob. */
  maxWildcards: 32,
  /** Globs in one manifest list (`mask`, `file_spec`, `protected_spec`, `dependency_spec`). */
  maxGlobsPerList: 256,
  /** Product-automaton states one validation (a manifest, a composition) may explore for overlap checks. */
  maxOverlapStates: 500_000,
} as const;

export type GlobLimit = 'glob_length' | 'glob_wildcards';

/** A glob beyond GLOB_LIMITS: refused like a syntax error, naming the limit. */
export class GlobLimitError extends GlobSyntaxError {
  readonly limit: GlobLimit;
  readonly max: number;
  readonly actual: number;

  constructor(pattern: string, limit: GlobLimit, max: number, actual: number) {
    const reason =
      limit === 'glob_length'
        ? `is ${actual} characters long; a glob may have at most ${max}: match a shorter path prefix with "**" or split it into several globs`
        : `has ${actual} wildcards; a glob may have at most ${max} ("*", "**", "?" and "[...]" each count): use "**" for runs of components instead of one wildcard per character`;
    super(pattern, reason, undefined, { limit, max, actual });
    this.name = 'GlobLimitError';
    this.limit = limit;
    this.max = max;
    this.actual = actual;
  }
}

/** Refuses a glob longer than GLOB_LIMITS.maxLength before any parsing work is spent on it. */
export function assertGlobLength(pattern: string): void {
  if (pattern.length <= GLOB_LIMITS.maxLength) return;
  // Code points, not UTF-16 units: a glob of 512 non-BMP characters is still within the limit.
  let length = 0;
  for (const _ of pattern) length++;
  if (length > GLOB_LIMITS.maxLength) throw new GlobLimitError(pattern, 'glob_length', GLOB_LIMITS.maxLength, length);
}

/** Refuses a glob with more than GLOB_LIMITS.maxWildcards wildcards. */
export function assertGlobWildcards(pattern: string, wildcards: number): void {
  if (wildcards > GLOB_LIMITS.maxWildcards) throw new GlobLimitError(pattern, 'glob_wildcards', GLOB_LIMITS.maxWildcards, wildcards);
}

/**
 * The work one validation may spend on overlap checks, shared by every pair it compares (so many cheap pairs
 * and one expensive pair are bounded alike). Exhausting it throws GlobOverlapBudgetError.
 */
export class OverlapBudget {
  readonly limit: number;
  private used = 0;

  constructor(limit: number = GLOB_LIMITS.maxOverlapStates) {
    this.limit = limit;
  }

  /** Product-automaton states explored so far. */
  get spent(): number {
    return this.used;
  }

  /** Charges one explored state; throws once the budget is exceeded. */
  charge(a: string, b: string): void {
    this.used++;
    if (this.used > this.limit) throw new GlobOverlapBudgetError(a, b, this.limit);
  }
}

/** The overlap check of two globs did not finish within its OverlapBudget: refused rather than guessed. */
export class GlobOverlapBudgetError extends PowernodeError {
  readonly a: string;
  readonly b: string;

  constructor(a: string, b: string, limit: number) {
    super(
      'validation_failed',
      `deciding whether "${abbreviateGlob(a)}" and "${abbreviateGlob(b)}" overlap needs more than ${limit} automaton states (limit overlap_states); use fewer wildcards, shorter globs or fewer globs`,
      { details: { limit: 'overlap_states', max: limit, a, b } },
    );
    this.name = 'GlobOverlapBudgetError';
    this.a = a;
    this.b = b;
  }
}
