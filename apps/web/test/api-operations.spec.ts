import { API_OPERATIONS } from '../src/api/api-operations.generated.js';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the generator reads the gateway's operation definitions
import { documentPaths, schemaType } from '../../../scripts/web-api-types.js';

type Entry = { method: string; path: string; path_params: readonly string[]; required: readonly string[] };

/** Method, path and required input fields of every operation the gateway serves now, as the generator reads them. */
function served(): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  for (const [route, methods] of Object.entries(documentPaths())) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query');
      const body = op.requestBody?.content['application/json']?.schema;
      const required = [...new Set([...params.filter((p) => p.required).map((p) => p.name), ...(body?.required ?? [])])].sort();
      out[op.operationId] = {
        method: method.toUpperCase(),
        path: route.replace('/api/v1/system', ''),
        path_params: params.filter((p) => p.in === 'path').map((p) => p.name),
        required,
      };
    }
  }
  return out;
}

describe("the web UI's API client types", () => {
  // A route or a required field that changed breaks a call; an optional field added since only leaves the
  // generated types behind (regenerate: npx tsx scripts/web-api-types.ts).
  it('name every operation by the method, path and required fields the gateway serves now', () => {
    const now = served();
    for (const [id, entry] of Object.entries(API_OPERATIONS as Record<string, Entry>)) {
      expect({ id, ...entry, path_params: [...entry.path_params], required: [...entry.required] }).toEqual({ id, ...now[id] });
    }
  });

  it.each([
    [{ type: 'string' }, 'string'],
    [{ type: 'integer' }, 'number'],
    [{ type: 'array', items: { enum: ['a', 'b'] } }, '("a" | "b")[]'],
    [{ type: 'object', properties: { a: { type: 'string' }, b: { type: 'boolean' } }, required: ['a'] }, '{ a: string; b?: boolean }'],
    [{ anyOf: [{ type: 'string' }, { type: 'null' }] }, 'string | null'],
    [{}, 'unknown'],
  ])('turn JSON Schema %j into %s', (schema, type) => {
    expect(schemaType(schema as never)).toBe(type);
  });
});
