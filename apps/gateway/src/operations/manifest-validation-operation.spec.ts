// The manifest dry run answers every text with a report: a deeply nested manifest is an invalid manifest
// (manifest_too_deep, with its field and line), never an exception the HTTP layer would turn into a 500.
import fc from 'fast-check';
import type { RpcClient } from '@powernode/events';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { catalogOperations } from './catalog-operations.js';
import type { Operation } from './operation.js';

const validate = catalogOperations({} as RpcClient, {} as GatewayReadModels).find((o) => o.tool === 'system_validate_module_manifest') as Operation;
const context = { principal: { id: 'viewer-1', name: 'viewer', role: 'viewer' as const }, correlation_id: 'c-1' };
const run = (manifest_yaml: string) => validate.run(validate.input.parse({ manifest_yaml }), context);

describe('system_validate_module_manifest', () => {
  test('reports deep nesting as manifest_too_deep with the field, line and what to do', async () => {
    const result = await run(`schema_version: 1\nname: my-redis\nmask: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    expect(result).toEqual({
      valid: false,
      warnings: [],
      errors: [
        expect.objectContaining({
          code: 'manifest_too_deep',
          path: expect.stringMatching(/^mask\[0\]/),
          line: 3,
          message: expect.stringMatching(/flatten this value/),
        }),
      ],
    });
  });

  test('answers a report for any nesting, flow or indicator run, closed or not', async () => {
    const text = fc
      .record({ opener: fc.constantFrom('[', '{a: ', '- ', '? ', '&a ', '!t '), depth: fc.integer({ min: 1, max: 8_000 }), closed: fc.boolean() })
      .map(
        ({ opener, depth, closed }) => `schema_version: 1\nname: my-redis\nmask: ${opener.repeat(depth)}${closed && opener === '[' ? ']'.repeat(depth) : ''}\n`,
      );
    await fc.assert(
      fc.asyncProperty(text, async (manifest) => {
        const result = await run(manifest);
        expect(typeof result.valid).toBe('boolean');
      }),
      { numRuns: 25 },
    );
  });
});
