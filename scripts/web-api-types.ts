// Writes apps/web/src/api/api-operations.generated.ts from the gateway's OpenAPI document: each operation's
// method, path and input (path, query and body fields, merged as the REST router merges them) as TypeScript,
// so the web UI's API client is typed from the same operations that serve it. apps/web/test checks that every
// route and required field in the file is still what the gateway serves. Run: npx tsx scripts/web-api-types.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventStore, ProjectionRunner, RpcClient } from '@powernode/events';
/* eslint-disable @nx/enforce-module-boundaries -- the generator reads the gateway's operation definitions */
import type { TokenRegistryState } from '../apps/gateway/src/auth/token-registry.js';
import { API_PREFIX, openApiDocument } from '../apps/gateway/src/http/openapi.js';
import { catalogOperations } from '../apps/gateway/src/operations/catalog-operations.js';
import { gatewayOperations } from '../apps/gateway/src/operations/gateway-operations.js';
import { provisionerOperations } from '../apps/gateway/src/operations/provisioner-operations.js';
import type { GatewayReadModels } from '../apps/gateway/src/read-models/gateway-read-models.js';
/* eslint-enable @nx/enforce-module-boundaries */

export const GENERATED_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../apps/web/src/api/api-operations.generated.ts');

export type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  additionalProperties?: Schema | boolean;
  $ref?: string;
};
export type Parameter = { name: string; in: 'path' | 'query' | 'header'; required: boolean; schema: Schema };
export type OperationItem = { operationId: string; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } };

/** A JSON Schema as a TypeScript type (the subset zod's toJSONSchema produces for our inputs). */
export function schemaType(s: Schema | undefined): string {
  if (!s) return 'unknown';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = s.anyOf ?? s.oneOf;
  if (union) return union.map((u) => schemaType(u)).join(' | ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length > 1) return types.map((t) => schemaType({ ...s, type: t })).join(' | ');
  switch (types[0]) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return `${wrap(schemaType(s.items))}[]`;
    case 'object': {
      if (s.properties) return objectType(s.properties, s.required ?? []);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') return `Record<string, ${schemaType(s.additionalProperties)}>`;
      return 'Record<string, unknown>';
    }
    default:
      return 'unknown';
  }
}

const wrap = (t: string): string => (/[ |]/.test(t) ? `(${t})` : t);

function objectType(properties: Record<string, Schema>, required: string[]): string {
  const fields = Object.entries(properties).map(
    ([k, v]) => `${/^[a-z_][a-z0-9_]*$/i.test(k) ? k : JSON.stringify(k)}${required.includes(k) ? '' : '?'}: ${schemaType(v)}`,
  );
  return fields.length ? `{ ${fields.join('; ')} }` : 'Record<string, never>';
}

/** The REST paths of the gateway's OpenAPI document. */
export function documentPaths(): Record<string, Record<string, OperationItem>> {
  // Building the document only reads each operation's definition; nothing here is called.
  const operations = [
    ...catalogOperations({} as RpcClient, {} as GatewayReadModels),
    ...provisionerOperations({} as RpcClient),
    ...gatewayOperations({} as EventStore, {} as ProjectionRunner<TokenRegistryState>),
  ];
  return openApiDocument(operations)['paths'] as Record<string, Record<string, OperationItem>>;
}

/** The generated module's text. */
export function generateApiOperations(): string {
  const paths = documentPaths();
  const entries: string[] = [];
  const table: string[] = [];
  for (const [route, methods] of Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))) {
    if (!route.startsWith(API_PREFIX)) continue;
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query');
      const body = op.requestBody?.content['application/json']?.schema;
      if (!params.length && !body && method !== 'get') continue;
      const fields: Record<string, Schema> = Object.fromEntries(params.map((p) => [p.name, p.schema]));
      const required = params.filter((p) => p.required).map((p) => p.name);
      for (const [k, v] of Object.entries(body?.properties ?? {})) fields[k] = v;
      required.push(...(body?.required ?? []));
      const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name);
      entries.push(`  ${op.operationId}: ${objectType(fields, required)};`);
      const list = (names: string[]) => `[${names.map((n) => `'${n}'`).join(', ')}]`;
      table.push(
        `  ${op.operationId}: { method: '${method.toUpperCase()}', path: '${route.slice(API_PREFIX.length)}', path_params: ${list(pathParams)}, required: ${list([...new Set(required)].sort())} },`,
      );
    }
  }
  return [
    '// Generated by scripts/web-api-types.ts from the gateway OpenAPI document (GET /api/docs): do not edit.',
    '// apps/web/test/api-operations.spec.ts fails when it is out of date; regenerate with `npx tsx scripts/web-api-types.ts`.',
    '',
    '/** The input of each operation, by its operationId (the MCP tool name): path, query and body fields together. */',
    'export interface ApiInputs {',
    ...entries,
    '}',
    '',
    '/** Method and path (under /api/v1/system) of each operation; `path_params` are filled from the input; `required` input fields. */',
    'export const API_OPERATIONS = {',
    ...table,
    '} as const satisfies Record<keyof ApiInputs, { method: string; path: string; path_params: readonly string[]; required: readonly string[] }>;',
    '',
    'export type ApiOperationId = keyof ApiInputs;',
    '',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { format, resolveConfig } = await import('prettier');
  writeFileSync(GENERATED_FILE, await format(generateApiOperations(), { ...(await resolveConfig(GENERATED_FILE)), filepath: GENERATED_FILE }));
  process.stdout.write(`wrote ${path.relative(process.cwd(), GENERATED_FILE)}\n`);
}
