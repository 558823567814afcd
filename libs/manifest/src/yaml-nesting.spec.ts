// Deeply nested YAML is refused with a coded issue that names the field, before the YAML library's recursive
// document builder can exhaust the call stack.
import { isPowernodeError } from '@powernode/contracts';
import { MAX_MANIFEST_NESTING, parseModuleManifestYaml, validateManifestYaml } from './index.js';
import { findExcessiveNesting } from './yaml-nesting.js';

const minimal = 'schema_version: 1\nname: my-redis\n';
const flowLists = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
/** A block sequence nested `depth` times, one level per line, under `key`. */
const blockLists = (key: string, depth: number) => `${key}:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(2 * i + 2)}-`).join('\n')} x\n`;

describe('findExcessiveNesting', () => {
  test.each([
    ['flow lists at the limit', `${minimal}mask: ${flowLists(MAX_MANIFEST_NESTING - 1)}\n`],
    ['block lists at the limit', `${minimal}${blockLists('mask', MAX_MANIFEST_NESTING - 1)}`],
    ['an ordinary manifest', `${minimal}services:\n  - name: redis\n    exposed_ports:\n      - { port: 6379, protocol: tcp }\n`],
    ['text that is not YAML', '{ [ "unclosed'],
  ])('finds nothing in %s', (_what, text) => {
    expect(findExcessiveNesting(text)).toBeUndefined();
  });

  test('names the field, the line and the column of the collection one level too deep', () => {
    const text = `${minimal}dependencies:\n  requires: ${flowLists(MAX_MANIFEST_NESTING)}\n`;
    // Levels: the document's mapping, dependencies, requires, then the lists inside it.
    const inner = Array.from({ length: MAX_MANIFEST_NESTING - 2 }, () => '[0]').join('');
    expect(findExcessiveNesting(text)).toMatchObject({
      path: `dependencies.requires${inner}`,
      line: 4,
      column: 13 + MAX_MANIFEST_NESTING - 2,
      limit: MAX_MANIFEST_NESTING,
    });
  });

  test('walks block collections and quoted keys', () => {
    const text = `${minimal}"odd key":\n${Array.from({ length: MAX_MANIFEST_NESTING + 5 }, (_, i) => `${' '.repeat(2 * i + 2)}k${i}:`).join('\n')} x\n`;
    expect(findExcessiveNesting(text)?.path).toBe(['["odd key"]', ...Array.from({ length: MAX_MANIFEST_NESTING - 1 }, (_, i) => `k${i}`)].join('.'));
  });

  test.each([
    ['block sequence indicators', 'mask: ', '- '],
    ['explicit keys', 'build: ', '? '],
    ['anchors', 'mask: ', '&a '],
    ['tags', 'mask: ', '!t '],
  ])('finds %s in a row on one line, which the YAML lexer reads recursively', (_what, prefix, indicator) => {
    const text = `${minimal}${prefix}${indicator.repeat(MAX_MANIFEST_NESTING + 1)}x\n`;
    expect(findExcessiveNesting(text)).toMatchObject({
      line: 3,
      column: prefix.length + 1,
      message: expect.stringMatching(/in a row on one line.*write the value on its own lines/),
    });
  });

  test('lets a few indicators in a row, words made of indicator characters, quoted text and comments through', () => {
    expect(findExcessiveNesting(`${minimal}mask: &a !!seq [- x]\ndescription: "${'-- ?? :: '.repeat(100)}"\n`)).toBeUndefined();
    expect(
      findExcessiveNesting(
        `${minimal}description: "${'- '.repeat(100)}\\" ${'- '.repeat(100)}"\nlicense: '${'- '.repeat(100)}'' ${'- '.repeat(100)}'\n# ${'- '.repeat(100)}\n`,
      ),
    ).toBeUndefined();
  });

  test('still refuses, without a position, a run the scan took for quoted text that YAML reads as a plain scalar', () => {
    const text = `${minimal}description: it's 'plain\nmask: ${'- '.repeat(20_000)}x\n`;
    expect(findExcessiveNesting(text)).toMatchObject({ line: 1, column: 1, message: expect.stringMatching(/too deep for the YAML reader/) });
  });

  test('finds the alias one past the limit, where chains of aliases would nest values without bound', () => {
    const chain = [`a: &a0 [x]`, ...Array.from({ length: MAX_MANIFEST_NESTING + 1 }, (_, i) => `k${i + 1}: &a${i + 1} [*a${i}]`)].join('\n');
    expect(findExcessiveNesting(`${minimal}${chain}\n`)).toMatchObject({
      path: `k${MAX_MANIFEST_NESTING + 1}[0]`,
      line: MAX_MANIFEST_NESTING + 4,
      message: expect.stringMatching(/more than 32 aliases.*write the values out/),
    });
    expect(
      findExcessiveNesting(
        `${minimal}${chain
          .split('\n')
          .slice(0, MAX_MANIFEST_NESTING + 1)
          .join('\n')}\n`,
      ),
    ).toBeUndefined();
  });

  test('measures fifty thousand brackets without recursion', () => {
    expect(findExcessiveNesting(`${minimal}mask: ${flowLists(50_000)}\n`)?.limit).toBe(MAX_MANIFEST_NESTING);
  });
});

describe('a manifest that nests too deep', () => {
  test.each([
    ['flow lists', `${minimal}mask: ${flowLists(20_000)}\n`, 'mask', /more than 32 levels deep.*flatten this value/],
    ['flow mappings', `${minimal}build: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`, 'build', /more than 32 levels deep.*flatten this value/],
    ['block lists', `${minimal}${blockLists('file_spec', 100)}`, 'file_spec', /more than 32 levels deep.*flatten this value/],
    ['a document that is only brackets', '['.repeat(50_000), '', /more than 32 levels deep.*flatten this value/],
    [
      'a line of sequence indicators',
      `${minimal}mask: ${'- '.repeat(8_000)}\n`,
      '',
      /more than 32 collections, anchors or tags in a row.*write the value on its own lines/,
    ],
    [
      'a chain of aliases',
      `${minimal}k0: &a0 [x]\n${Array.from({ length: 300 }, (_, i) => `k${i + 1}: &a${i + 1} [*a${i}]`).join('\n')}\n`,
      'k33\\[0\\]',
      /more than 32 aliases/,
    ],
  ])('is reported as manifest_too_deep for %s, with the field and what to do', (_what, text, field, message) => {
    const result = validateManifestYaml(text);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      expect.objectContaining({
        code: 'manifest_too_deep',
        path: expect.stringMatching(new RegExp(`^${field}`)),
        line: expect.any(Number),
        column: expect.any(Number),
        message: expect.stringMatching(message),
      }),
    ]);
  });

  test('is refused as manifest_invalid when read for use (ingest, build)', () => {
    let caught: unknown;
    try {
      parseModuleManifestYaml(`${minimal}mask: ${flowLists(20_000)}\n`);
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught) && caught.code).toBe('manifest_invalid');
    expect(isPowernodeError(caught) && caught.details).toMatchObject({ errors: [{ code: 'manifest_too_deep', path: expect.stringMatching(/^mask\[0\]/) }] });
  });
});
