// Property: whatever text arrives as manifest.yaml (random YAML, deep nesting, a valid manifest with bytes
// changed), validation answers with a result and reading for use refuses with manifest_invalid; no other
// exception ever escapes, so no surface answers 500 for a manifest.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isPowernodeError, manifestValidationResultSchema } from '@powernode/contracts';
import { MAX_MANIFEST_NESTING, parseModuleManifestYaml, validateManifestYaml } from './index.js';

const tutorial = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures/tutorial-my-redis/manifest.yaml'), 'utf8');
const minimal = 'schema_version: 1\nname: my-redis\n';

/** Characters that mean something to YAML, and a few that do not. */
const yamlChar = fc.constantFrom(
  ...'[]{}:,-?&*!|>\'"#%@`~\\\n\t  aZ09._/'.split(''),
  '\r\n',
  '---\n',
  '...\n',
  '<<: ',
  '&a ',
  '*a',
  '!!str ',
  '\u2028',
  '\uFEFF',
  'é',
);
const yamlText = fc.array(yamlChar, { maxLength: 400 }).map((chars) => chars.join(''));

const openers = ['[', '{a: ', '{? ', '- ', '[{a: ', '? ', '&a ', '!t ', ': '] as const;
/** A field holding collections nested `depth` deep, flow or block, possibly unclosed or with a tail. */
const deepManifest = fc
  .record({
    key: fc.constantFrom('mask', 'file_spec', 'dependencies', 'services', 'build', 'unknown_key', 'security'),
    opener: fc.constantFrom(...openers),
    depth: fc.integer({ min: 1, max: 6_000 }),
    closed: fc.boolean(),
    block: fc.boolean(),
    tail: yamlText,
  })
  .map(({ key, opener, depth, closed, block, tail }) => {
    if (block) {
      const lines = Array.from({ length: Math.min(depth, 200) }, (_, i) => `${' '.repeat(i + 1)}${opener === '- ' ? '-' : `k${i}:`}`);
      return `${minimal}${key}:\n${lines.join('\n')} x\n${tail}`;
    }
    const closer = opener.startsWith('[{') ? '}]' : opener.startsWith('{') ? '}' : opener === '[' ? ']' : '';
    return `${minimal}${key}: ${opener.repeat(depth)}${closed ? closer.repeat(depth) : ''}\n${tail}`;
  });

/** Chains of aliases whose targets hold aliases, each value nested a few levels. */
const aliasChain = fc.record({ length: fc.integer({ min: 1, max: 200 }), depth: fc.integer({ min: 0, max: 31 }) }).map(({ length, depth }) => {
  const wrap = (inner: string) => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
  const lines = [`a0: &a0 ${wrap('x')}`, ...Array.from({ length: length - 1 }, (_, i) => `a${i + 1}: &a${i + 1} ${wrap(`*a${i}`)}`)];
  return `${minimal}${lines.join('\n')}\n`;
});

/** The tutorial manifest with a few characters inserted, deleted or replaced. */
const mutatedTutorial = fc
  .array(fc.record({ at: fc.nat({ max: tutorial.length }), remove: fc.nat({ max: 5 }), insert: yamlText }), { minLength: 1, maxLength: 4 })
  .map((edits) => edits.reduce((text, { at, remove, insert }) => text.slice(0, at) + insert + text.slice(at + remove), tutorial));

const anyManifestText = fc.oneof(yamlText, deepManifest, aliasChain, mutatedTutorial, fc.string({ maxLength: 300 }));

function readForUse(text: string): 'ok' | 'manifest_invalid' {
  try {
    parseModuleManifestYaml(text);
    return 'ok';
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'manifest_invalid') return 'manifest_invalid';
    throw error;
  }
}

describe('manifest YAML parsing and validation', () => {
  test('validation always answers a well-formed result, and reading for use agrees with it', () => {
    fc.assert(
      fc.property(anyManifestText, (text) => {
        const result = validateManifestYaml(text);
        expect(manifestValidationResultSchema.safeParse(result).success).toBe(true);
        expect(result.valid).toBe(result.errors.length === 0);
        expect(readForUse(text)).toBe(result.valid ? 'ok' : 'manifest_invalid');
      }),
      { numRuns: 150 },
    );
  });

  test('nesting beyond the limit is reported alone, as manifest_too_deep with its position', () => {
    fc.assert(
      fc.property(deepManifest, (text) => {
        const result = validateManifestYaml(text);
        const tooDeep = result.errors.find((e) => e.code === 'manifest_too_deep');
        if (tooDeep !== undefined) {
          expect(result.errors).toEqual([tooDeep]);
          expect(tooDeep.message).toContain(`more than ${MAX_MANIFEST_NESTING} `);
          expect(tooDeep.line).toBeGreaterThanOrEqual(3);
        }
      }),
      { numRuns: 60 },
    );
  });
});
