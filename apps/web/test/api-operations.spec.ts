import { readFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the generator reads the gateway's operation definitions
import { GENERATED_FILE, generateApiOperations, schemaType } from '../../../scripts/web-api-types.js';

describe("the web UI's API client types", () => {
  it('are generated from the OpenAPI document the gateway serves now (regenerate: npx tsx scripts/web-api-types.ts)', async () => {
    const fresh = await format(generateApiOperations(), { ...(await resolveConfig(GENERATED_FILE)), filepath: GENERATED_FILE });
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(fresh);
  });

  it.each([
    [{ type: 'string' }, 'string'],
    [{ type: 'integer' }, 'number'],
    [{ type: 'array', items: { enum: ['a', 'b'] } }, "('a' | 'b')[]".replace(/'/g, '"')],
    [{ type: 'object', properties: { a: { type: 'string' }, b: { type: 'boolean' } }, required: ['a'] }, '{ a: string; b?: boolean }'],
    [{ anyOf: [{ type: 'string' }, { type: 'null' }] }, 'string | null'],
    [{}, 'unknown'],
  ])('turn JSON Schema %j into %s', (schema, type) => {
    expect(schemaType(schema as never)).toBe(type);
  });
});
