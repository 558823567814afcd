import type { Request, Response } from 'express';
import { z } from 'zod';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { isPowernodeError, parseOrThrow, PowernodeError } from '@powernode/contracts';
import type { Logger } from '@powernode/runtime';
import type { Authenticator } from '../auth/authenticator.js';
import { requirePermission, type Principal } from '../auth/roles.js';
import { correlationIdFrom } from '../http/correlation.js';
import { toProblem } from '../http/problem.js';
import type { Operation } from '../operations/operation.js';

/** The MCP tool list, computed once: each operation's input schema as JSON Schema. */
export function toolList(operations: Operation[]): Tool[] {
  return operations.map((op) => ({
    name: op.tool,
    title: op.title,
    description: op.description,
    inputSchema: z.toJSONSchema(op.input, { io: 'input', unrepresentable: 'any' }) as Tool['inputSchema'],
  }));
}

/**
 * Runs one tool call; a refusal is a tool error whose text starts with the error code. A successful result's
 * text content is exactly the JSON of its structured content (answeredDirectly relies on it).
 */
export async function callTool(
  op: Operation | undefined,
  name: string,
  args: unknown,
  principal: Principal,
  correlation_id: string,
  logger: Logger,
): Promise<CallToolResult> {
  try {
    if (!op) throw new PowernodeError('not_found', `unknown tool ${name}: call tools/list for the available tools`);
    requirePermission(principal, op.permission);
    const input = parseOrThrow(op.input, args ?? {}, `${op.tool} arguments`);
    const result = (await op.run(input, { principal, correlation_id })) as Record<string, unknown>;
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  } catch (error) {
    if (!isPowernodeError(error)) logger.error({ err: error, correlation_id, tool: name }, 'tool failed');
    const problem = toProblem(error, undefined, correlation_id);
    const details = isPowernodeError(error) ? error.details : undefined;
    return {
      isError: true,
      content: [{ type: 'text', text: `${problem.code}: ${problem.detail}` }],
      structuredContent: { error: { code: problem.code, message: problem.detail, ...(details ? { details } : {}) } },
    };
  }
}

/**
 * MCP over streamable HTTP, stateless: every POST gets its own small protocol server bound to the caller's
 * principal. Authentication happens before the protocol, so a bad token is a plain HTTP 401 like REST.
 */
export function mcpHandler(operations: Operation[], authenticator: Authenticator, logger: Logger): (req: Request, res: Response) => Promise<void> {
  const tools = toolList(operations);
  const byName = new Map(operations.map((op) => [op.tool, op]));
  return async (req, res) => {
    const correlation_id = correlationIdFrom(req.headers['x-correlation-id']);
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(req.headers.authorization);
    } catch (error) {
      const problem = toProblem(error, req.originalUrl, correlation_id);
      res.setHeader('WWW-Authenticate', 'Bearer');
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
      return;
    }
    if (req.method !== 'POST') {
      res
        .status(405)
        .setHeader('Allow', 'POST')
        .json({ jsonrpc: '2.0', error: { code: -32000, message: 'this MCP endpoint is stateless: use POST' }, id: null });
      return;
    }
    if (await answeredDirectly(req, res, tools, byName, principal, correlation_id, logger)) return;
    const server = new Server({ name: 'powernode', version: '0.1.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
    server.setRequestHandler(CallToolRequestSchema, async (request) =>
      callTool(byName.get(request.params.name), request.params.name, request.params.arguments, principal, correlation_id, logger),
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
}

/**
 * The two requests that make up nearly all MCP traffic — a single `tools/call` or `tools/list` asking for a
 * JSON response — are answered here without building a protocol server per request; the SDK handles
 * everything else (initialize, notifications, batches, SSE). The answer is the same JSON-RPC the SDK sends.
 */
async function answeredDirectly(
  req: Request,
  res: Response,
  tools: Tool[],
  byName: Map<string, Operation>,
  principal: Principal,
  correlation_id: string,
  logger: Logger,
): Promise<boolean> {
  const body = req.body as { jsonrpc?: unknown; id?: unknown; method?: unknown } | undefined;
  const accept = String(req.headers.accept ?? '');
  if (!body || Array.isArray(body) || body.jsonrpc !== '2.0' || (typeof body.id !== 'string' && typeof body.id !== 'number')) return false;
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return false;
  let result: unknown;
  if (body.method === 'tools/list') {
    result = { tools };
  } else if (body.method === 'tools/call') {
    const parsed = CallToolRequestSchema.safeParse(body);
    if (!parsed.success) return false;
    result = await callTool(byName.get(parsed.data.params.name), parsed.data.params.name, parsed.data.params.arguments, principal, correlation_id, logger);
  } else {
    return false;
  }
  res.status(200).type('application/json').send(jsonRpcResponse(body.id, result));
  return true;
}

/**
 * The JSON-RPC response of a request answered here. A successful tool result carries its data twice (as text
 * and as structured content): the text is already that JSON, so it is spliced in rather than serialized again.
 */
export function jsonRpcResponse(id: string | number, result: unknown): string {
  const call = result as Partial<CallToolResult>;
  const first = call.content?.[0];
  if (call.isError !== true && call.structuredContent !== undefined && call.content?.length === 1 && first?.type === 'text') {
    return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":${JSON.stringify(first.text)}}],"structuredContent":${first.text}}}`;
  }
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}
