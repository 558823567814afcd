import { GLOB_LIMITS } from '@powernode/globs';
import { validateManifestYaml } from './index.js';

// A manifest of a few kilobytes used to keep the validation (a read-only call anyone may make) busy for
// seconds through its glob checks. Beyond the glob limits it is refused with an error naming the entry, the
// limit and what to do; no test here measures time.

const minimal = 'schema_version: 1\nname: heavy-globs\n';

function yamlList(field: string, globs: readonly string[]): string {
  return `${field}:\n${globs.map((glob) => `  - "${glob}"\n`).join('')}`;
}

describe('validateManifestYaml refuses globs beyond the glob limits', () => {
  test('4×4 wildcard-heavy globs in a 3 KB manifest: each entry is refused for its wildcard count', () => {
    const protectedGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(185)}X${i}`);
    const fileGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(185)}Y${i}`);
    const text = `${minimal}${yamlList('file_spec', fileGlobs)}${yamlList('protected_spec', protectedGlobs)}`;
    expect(text.length).toBeGreaterThan(3000);
    const result = validateManifestYaml(text);
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => [e.path, e.code])).toEqual([
      ...[0, 1, 2, 3].map((i) => [`file_spec[${i}]`, 'glob_limit_exceeded']),
      ...[0, 1, 2, 3].map((i) => [`protected_spec[${i}]`, 'glob_limit_exceeded']),
    ]);
    expect(result.errors[4]?.message).toBe(
      'has 185 wildcards; a glob may have at most 32 ("*", "**", "?" and "[...]" each count): use "**" for runs of components instead of one wildcard per character (limit glob_wildcards)',
    );
    expect(result.errors[4]).toMatchObject({ line: expect.any(Number), column: 5 });
  });

  test('4×4 globs within the per-glob limits in a 3 KB manifest: the overlap checks stop at their budget and say so', () => {
    const protectedGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(32)}${'a'.repeat(300)}X${i}`);
    const fileGlobs = [1, 2, 3, 4].map((i) => `/${'*a'.repeat(32)}${'a'.repeat(300)}Y${i}`);
    const text = `${minimal}${yamlList('file_spec', fileGlobs)}${yamlList('protected_spec', protectedGlobs)}`;
    expect(text.length).toBeGreaterThan(3000);
    const result = validateManifestYaml(text);
    expect(result.valid).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'glob_limit_exceeded', path: expect.stringMatching(/^protected_spec\[\d\]$/) });
    expect(result.errors[0]?.message).toMatch(
      new RegExp(
        `^cannot be compared with file_spec\\[\\d\\] within ${GLOB_LIMITS.maxOverlapStates} automaton states \\(limit overlap_states, for the whole manifest\\): use fewer wildcards`,
      ),
    );
  });

  test('an 802-character glob is refused for its length', () => {
    const result = validateManifestYaml(`${minimal}${yamlList('protected_spec', [`/${'*a'.repeat(400)}X`])}${yamlList('file_spec', ['/etc/**'])}`);
    expect(result.errors.map((e) => [e.path, e.code])).toEqual([['protected_spec[0]', 'glob_limit_exceeded']]);
    expect(result.errors[0]?.message).toMatch(/^is 802 characters long; a glob may have at most 512: .* \(limit glob_length\)$/);
  });

  test('a list with more globs than allowed is refused at the list; its first entries are still checked', () => {
    const globs = Array.from({ length: GLOB_LIMITS.maxGlobsPerList + 1 }, (_, i) => `/opt/app/file-${i}`);
    globs[3] = '/opt/[x';
    const result = validateManifestYaml(`${minimal}${yamlList('file_spec', globs)}`);
    expect(result.errors.map((e) => [e.path, e.code])).toEqual([
      ['file_spec', 'glob_limit_exceeded'],
      ['file_spec[3]', 'invalid_glob'],
    ]);
    expect(result.errors[0]?.message).toBe(
      `has ${GLOB_LIMITS.maxGlobsPerList + 1} entries; a glob list may have at most ${GLOB_LIMITS.maxGlobsPerList} (limit globs_per_list): cover whole directories with "dir/**" instead of listing their files`,
    );
  });

  test('globs at the limits are accepted', () => {
    const atLength = `/${'a'.repeat(GLOB_LIMITS.maxLength - 1)}`;
    const atWildcards = `/opt/${'?'.repeat(GLOB_LIMITS.maxWildcards)}`;
    const result = validateManifestYaml(`${minimal}${yamlList('file_spec', [atLength, atWildcards])}${yamlList('protected_spec', [atLength])}`);
    expect(result).toEqual({ valid: true, errors: [], warnings: [] });
  });
});
