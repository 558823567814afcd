import { z } from 'zod';
import type { Operation } from '../operations/operation.js';

export const API_PREFIX = '/api/v1/system';

type JsonSchema = { type?: string; properties?: Record<string, unknown>; required?: string[]; [k: string]: unknown };

/** Input schema as JSON Schema; zod preprocess steps (aliases) are documented through their output shape. */
function inputJsonSchema(op: Operation): JsonSchema {
  return z.toJSONSchema(op.input, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** The OpenAPI 3.1 document of the REST surface, generated from the same operations that serve it. */
export function openApiDocument(operations: Operation[], version = '0.1.0'): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const schema = inputJsonSchema(op);
    const pathParams = [...op.rest.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!);
    // The input fields the path fills: named like the parameter unless the route maps it to another field.
    const pathFields = pathParams.map((name) => op.rest.params?.[name] ?? name);
    const properties = schema.properties ?? {};
    const parameters: unknown[] = pathParams.map((name, i) => ({ name, in: 'path', required: true, schema: properties[pathFields[i]!] ?? { type: 'string' } }));
    const bodyless = op.rest.method === 'GET' || op.rest.method === 'DELETE';
    if (bodyless) {
      for (const [name, s] of Object.entries(properties)) {
        if (pathFields.includes(name)) continue;
        parameters.push({ name, in: 'query', required: (schema.required ?? []).includes(name), schema: s });
      }
    }
    const bodyProperties = Object.fromEntries(Object.entries(properties).filter(([k]) => !pathFields.includes(k)));
    const item: Record<string, unknown> = {
      operationId: op.tool,
      summary: op.title,
      description: `${op.description}\n\nMCP tool: \`${op.tool}\`. Requires the \`${op.permission}\` permission.`,
      parameters,
      security: [{ bearer: [] }],
      responses: {
        [String(op.rest.status ?? 200)]: {
          description: op.stream ? `success: JSON by default; with \`Accept: ${op.stream.media_type}\`, streamed. ${op.stream.description}` : 'success',
          content: {
            'application/json': { schema: { type: 'object' } },
            ...(op.stream ? { [op.stream.media_type]: { schema: { ...op.stream.line_schema, description: 'one JSON object per line' } } } : {}),
          },
        },
        default: { description: 'error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    };
    if (!bodyless) {
      item['requestBody'] = {
        required: true,
        content: {
          'application/json': { schema: { ...schema, properties: bodyProperties, required: (schema.required ?? []).filter((r) => !pathFields.includes(r)) } },
        },
      };
    }
    const path = `${API_PREFIX}${op.rest.path}`;
    paths[path] = { ...(paths[path] ?? {}), [op.rest.method.toLowerCase()]: item };
  }
  paths[`${API_PREFIX}/webhooks/gitea/module`] = {
    post: {
      operationId: 'webhook_gitea_module',
      summary: 'CI build webhook',
      description:
        'HMAC-SHA256 of the raw body in X-Gitea-Signature (hex) or X-Hub-Signature-256 (sha256=<hex>); delivery id in X-Gitea-Delivery or X-GitHub-Delivery. 202 accepted, 200 duplicate (a delivery id the module already used, or the same signed body within 24 hours under any delivery id), 401 bad signature or unknown repository, 413 over 1 MiB (less when NATS cannot carry that much: see limit_bytes), 400 signed but malformed.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                repository: { type: 'object', properties: { full_name: { type: 'string' } } },
                ref: { type: 'string' },
                artifact: { type: 'string' },
              },
            },
          },
        },
      },
      responses: { '202': { description: 'accepted' }, '200': { description: 'duplicate delivery' }, '401': { description: 'refused' } },
    },
  };
  paths[`${API_PREFIX}/events/stream`] = {
    get: {
      operationId: 'system_stream_events',
      summary: 'Live event log (server-sent events)',
      description:
        'The global event log as text/event-stream, live: one `log` event per stored event, its id the global log position, its data the event as JSON. Starts after `Last-Event-ID` (resuming), else after `?after=<position>`, else at the head. Bearer auth like every route; any role with the read permission; for roles other than admin the data of token, registration and enrolment events is withheld (`data: null, data_withheld: true`).',
      parameters: [
        { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string', pattern: '^[0-9]+$' } },
        { name: 'after', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]+$' } },
      ],
      security: [{ bearer: [] }],
      responses: {
        '200': { description: 'the stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        default: { description: 'error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Powernode API',
      version,
      description: 'Modules, versions, promotion, templates, nodes and instances. Every operation is also an MCP tool at /mcp.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            correlation_id: { type: 'string' },
          },
        },
      },
    },
  };
}
