// A manifest given at registration is read here: whatever the text, the answer is a manifest or
// manifest_invalid (a 400), never another exception.
import fc from 'fast-check';
import { isPowernodeError } from '@powernode/contracts';
import { parseManifestYaml } from './manifest-seed.js';

function outcome(text: string): string {
  try {
    parseManifestYaml(text);
    return 'manifest';
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'manifest_invalid') return 'manifest_invalid';
    throw error;
  }
}

describe('parseManifestYaml', () => {
  test('refuses deep nesting as manifest_invalid, naming the field and the issue code', () => {
    let caught: unknown;
    try {
      parseManifestYaml(`schema_version: 1\nname: my-redis\nfile_spec: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`);
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught) && caught.details).toMatchObject({
      issues: [{ code: 'manifest_too_deep', path: expect.stringMatching(/^file_spec\.a\.a/), line: 3 }],
    });
  });

  test('answers any text with a manifest or manifest_invalid', () => {
    const piece = fc.constantFrom(
      '[',
      ']',
      '{',
      '}',
      '- ',
      '? ',
      ': ',
      '&a ',
      '*a',
      '!t ',
      '\n',
      '  ',
      'name: my-redis\n',
      'schema_version: 1\n',
      'mask: ',
      '"',
      "'",
      '#',
      '|\n',
      'x',
    );
    const text = fc.oneof(
      fc.array(piece, { maxLength: 200 }).map((pieces) => pieces.join('')),
      fc
        .record({ opener: fc.constantFrom('[', '{a: ', '- ', '? ', '&a '), depth: fc.integer({ min: 1, max: 8_000 }) })
        .map(({ opener, depth }) => `schema_version: 1\nname: my-redis\nmask: ${opener.repeat(depth)}\n`),
    );
    fc.assert(
      fc.property(text, (manifest) => {
        expect(['manifest', 'manifest_invalid']).toContain(outcome(manifest));
      }),
      { numRuns: 100 },
    );
  });
});
