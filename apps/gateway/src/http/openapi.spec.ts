import type { RpcClient } from '@powernode/events';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { catalogOperations } from '../operations/catalog-operations.js';
import { API_PREFIX, openApiDocument } from './openapi.js';
import { expressPath } from './rest-router.js';

type Parameter = { name: string; in: 'path' | 'query'; required: boolean; schema: Record<string, unknown> };
type PathItem = Record<string, { operationId: string; parameters: Parameter[] }>;

// Building the document only reads each operation's definition; nothing here is called.
const operations = catalogOperations({} as RpcClient, {} as GatewayReadModels);
const paths = openApiDocument(operations)['paths'] as Record<string, PathItem>;

describe('OpenAPI document of the catalog operations', () => {
  it('names the module of DELETE /modules/{module_name} in the path, with the module name schema, and asks for it nowhere else', () => {
    const remove = paths[`${API_PREFIX}/modules/{module_name}`]!['delete']!;
    expect(remove.operationId).toBe('system_delete_module');
    expect(remove.parameters).toEqual([
      { name: 'module_name', in: 'path', required: true, schema: expect.objectContaining({ type: 'string', pattern: expect.any(String) }) },
    ]);
    expect(paths[`${API_PREFIX}/modules/{name}`]).toBeUndefined();
  });

  it('serves every module route under one path parameter name', () => {
    const moduleRoutes = operations.filter((op) => op.rest.path.startsWith('/modules/'));
    expect(moduleRoutes.length).toBeGreaterThan(3);
    for (const op of moduleRoutes)
      expect({ tool: op.tool, path: expressPath(op.rest.path) }).toEqual({ tool: op.tool, path: expect.stringMatching(/^\/modules\/:module_name(\/|$)/) });
  });
});
