import { isPowernodeError } from '@powernode/contracts';
import {
  compileGlob,
  GLOB_LIMITS,
  GlobLimitError,
  GlobOverlapBudgetError,
  globsMayOverlap,
  globsShareAPath,
  GlobSyntaxError,
  OverlapBudget,
  type MatchMeter,
} from './index.js';

// Globs come from module authors and are evaluated by the catalog, the gateway and every agent: each of these
// inputs used to keep a process busy for seconds. Work is counted (matcher steps, automaton states), never timed.

/** The most steps a match may take: every state of the automaton advanced once per character. */
function matchStepBound(pattern: string, path: string): number {
  return (compileGlob(pattern).tokens.length + 2) * ([...path].length + 2);
}

describe('glob matching is linear in pattern × path', () => {
  test('a wildcard-heavy glob against a 49-character path that does not match takes a bounded number of steps', () => {
    const pattern = '**?**?**?**?**?**?**?**?**Z';
    const path = `/${'a'.repeat(48)}`;
    const meter: MatchMeter = { steps: 0 };
    expect(compileGlob(pattern).match(path, false, meter)).toBe(false);
    expect(meter.steps).toBeGreaterThan(0);
    expect(meter.steps).toBeLessThanOrEqual(matchStepBound(pattern, path));
  });

  test('the same glob matches when the path ends in Z, within the same bound', () => {
    const pattern = '**?**?**?**?**?**?**?**?**Z';
    const path = `/${'a/'.repeat(20)}aZ`;
    const meter: MatchMeter = { steps: 0 };
    expect(compileGlob(pattern).match(path, false, meter)).toBe(true);
    expect(meter.steps).toBeGreaterThan(0);
    expect(meter.steps).toBeLessThanOrEqual(matchStepBound(pattern, path));
  });

  test('an unanchored glob with the most wildcards allowed against a deep path stays within the bound', () => {
    const pattern = `${'*a'.repeat(GLOB_LIMITS.maxWildcards - 1)}*b`;
    const path = `/${'aaaa/'.repeat(200)}aaaa`;
    const meter: MatchMeter = { steps: 0 };
    expect(compileGlob(pattern).match(path, false, meter)).toBe(false);
    expect(meter.steps).toBeLessThanOrEqual(matchStepBound(pattern, path));
  });
});

describe('glob limits', () => {
  function refusal(pattern: string): GlobLimitError {
    try {
      compileGlob(pattern);
    } catch (error) {
      if (error instanceof GlobLimitError) return error;
      throw error;
    }
    throw new Error(`${pattern} was accepted`);
  }

  test('refuses an 802-character glob, naming the limit, the maximum and what to do', () => {
    const pattern = `/${'*a'.repeat(400)}X`;
    const error = refusal(pattern);
    expect(error).toBeInstanceOf(GlobSyntaxError);
    expect(isPowernodeError(error) && error.code).toBe('validation_failed');
    expect(error).toMatchObject({ limit: 'glob_length', max: GLOB_LIMITS.maxLength, actual: 802, pattern });
    expect(error.details).toMatchObject({ limit: 'glob_length', max: GLOB_LIMITS.maxLength, actual: 802 });
    expect(error.reason).toMatch(/802 characters long; a glob may have at most 512: .*"\*\*"/);
    // The message quotes the start of the pattern, not all of it.
    expect(error.message.length).toBeLessThan(400);
  });

  test('two 802-character globs are refused before any overlap work', () => {
    expect(() => globsMayOverlap(`/${'*a'.repeat(400)}X`, `/${'*b'.repeat(400)}Y`)).toThrow(GlobLimitError);
  });

  test('counts length in code points', () => {
    expect(() => compileGlob(`/${'😀'.repeat(GLOB_LIMITS.maxLength - 1)}`)).not.toThrow();
    expect(refusal(`/${'😀'.repeat(GLOB_LIMITS.maxLength)}`)).toMatchObject({ limit: 'glob_length', actual: GLOB_LIMITS.maxLength + 1 });
  });

  test('refuses more wildcards than allowed, counting *, **, ? and [...] alike', () => {
    expect(() => compileGlob(`/${'?'.repeat(GLOB_LIMITS.maxWildcards)}`)).not.toThrow();
    expect(refusal(`/${'?'.repeat(GLOB_LIMITS.maxWildcards + 1)}`)).toMatchObject({
      limit: 'glob_wildcards',
      max: GLOB_LIMITS.maxWildcards,
      actual: GLOB_LIMITS.maxWildcards + 1,
    });
    expect(refusal(`/${'*a**b?[xy]'.repeat(9)}`)).toMatchObject({ limit: 'glob_wildcards', actual: 36 });
    expect(refusal(`/${'*a**b?[xy]'.repeat(9)}`).reason).toMatch(/has 36 wildcards; a glob may have at most 32/);
  });

  test('escaped wildcards and literal patterns do not count', () => {
    expect(() => compileGlob(`/${'\\*'.repeat(GLOB_LIMITS.maxWildcards + 1)}`)).not.toThrow();
  });
});

describe('overlap checks are bounded by an OverlapBudget', () => {
  // Within the length and wildcard limits, but the product automaton of the two is large.
  const heavyA = `/${'*a'.repeat(32)}${'a'.repeat(400)}X`;
  const heavyB = `/${'*a'.repeat(32)}${'a'.repeat(400)}Y`;

  test('a heavy pair within the limits is answered within the default budget', () => {
    const budget = new OverlapBudget();
    expect(globsMayOverlap(heavyA, heavyB, budget)).toBe(false);
    expect(budget.spent).toBeGreaterThan(0);
    expect(budget.spent).toBeLessThanOrEqual(GLOB_LIMITS.maxOverlapStates);
  });

  test('refuses, never answers "disjoint", when the budget runs out', () => {
    const budget = new OverlapBudget(10_000);
    let caught: unknown;
    try {
      globsMayOverlap(heavyA, heavyB, budget);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GlobOverlapBudgetError);
    const error = caught as GlobOverlapBudgetError;
    expect(isPowernodeError(error) && error.code).toBe('validation_failed');
    expect(error.details).toMatchObject({ limit: 'overlap_states', max: 10_000, a: heavyA, b: heavyB });
    expect(error.message).toMatch(/needs more than 10000 automaton states \(limit overlap_states\); use fewer wildcards/);
    expect(budget.spent).toBe(10_001);
    expect(() => globsShareAPath(heavyA, heavyB, new OverlapBudget(10_000))).toThrow(GlobOverlapBudgetError);
  });

  test('4×4 heavy globs share one budget: the work stops at the budget, whatever the number of pairs', () => {
    const protectedGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(32)}${'a'.repeat(300)}X${i}`);
    const fileGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(32)}${'a'.repeat(300)}Y${i}`);
    const budget = new OverlapBudget();
    let pairs = 0;
    expect(() => {
      for (const p of protectedGlobs) {
        for (const f of fileGlobs) {
          globsMayOverlap(p, f, budget);
          pairs++;
        }
      }
    }).toThrow(GlobOverlapBudgetError);
    expect(pairs).toBeLessThan(16);
    expect(budget.spent).toBe(GLOB_LIMITS.maxOverlapStates + 1);
  });

  test('everyday globs cost a handful of states', () => {
    const budget = new OverlapBudget();
    expect(globsMayOverlap('/etc/ssh/sshd_config', '/etc/shadow', budget)).toBe(false);
    expect(globsMayOverlap('*.conf', '/etc/chrony/chrony.conf', budget)).toBe(true);
    expect(budget.spent).toBeLessThan(200);
  });
});
