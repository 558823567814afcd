import { isPowernodeError } from '@powernode/contracts';
import { GLOB_LIMITS } from '@powernode/globs';
import { assertSpecGlobsValid } from './spec-globs.js';

function refusal(run: () => void): { message: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'validation_failed') return { message: error.message, details: error.details ?? {} };
    throw error;
  }
  throw new Error('accepted');
}

describe('assertSpecGlobsValid refuses globs beyond the glob limits', () => {
  test('an over-long glob, naming the field, the entry and the limit', () => {
    const glob = `/${'*a'.repeat(400)}X`;
    const error = refusal(() => assertSpecGlobsValid({ protected_spec: ['/etc/shadow', glob] }, 'changes.'));
    expect(error.message).toMatch(/^changes\.protected_spec\[1\]: invalid glob ".*\.\.\.": is 802 characters long; a glob may have at most 512/);
    expect(error.details).toEqual({ field: 'changes.protected_spec[1]', glob, rule: 'glob_length', max: GLOB_LIMITS.maxLength, actual: 802 });
  });

  test('a glob with too many wildcards', () => {
    const error = refusal(() => assertSpecGlobsValid({ file_spec: [`${'**?'.repeat(17)}Z`] }, 'manifest.'));
    expect(error.details).toMatchObject({ field: 'manifest.file_spec[0]', rule: 'glob_wildcards', max: GLOB_LIMITS.maxWildcards, actual: 34 });
  });

  test('a list with too many globs', () => {
    const globs = Array.from({ length: GLOB_LIMITS.maxGlobsPerList + 1 }, (_, i) => `/opt/f${i}`);
    const error = refusal(() => assertSpecGlobsValid({ mask: globs }, 'manifest_yaml.'));
    expect(error.message).toMatch(/^manifest_yaml\.mask has 257 globs; a list may have at most 256 \(limit globs_per_list\)/);
    expect(error.details).toEqual({ field: 'manifest_yaml.mask', rule: 'globs_per_list', max: GLOB_LIMITS.maxGlobsPerList, actual: 257 });
  });

  test('a syntax error keeps its rule', () => {
    expect(refusal(() => assertSpecGlobsValid({ mask: ['/etc/[x'] }, 'manifest.')).details).toMatchObject({ field: 'manifest.mask[0]', rule: 'glob_valid' });
  });

  test('globs within the limits pass', () => {
    expect(() =>
      assertSpecGlobsValid({ mask: ['/var/cache/apt/**'], file_spec: ['/etc/**'], protected_spec: [`/${'?'.repeat(GLOB_LIMITS.maxWildcards)}`] }, 'manifest.'),
    ).not.toThrow();
  });
});
