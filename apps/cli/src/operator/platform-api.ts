import { PowernodeError } from '@powernode/contracts';

/** Where the operator commands find the platform: POWERNODE_URL (default http://127.0.0.1:8080) and POWERNODE_TOKEN. */
export interface PlatformTarget {
  url: string;
  token: string;
}

/** Reads the target from flags and environment; the token may also be the dev stack's admin-token file. */
export function platformTarget(options: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): PlatformTarget {
  const url = (options.url ?? env['POWERNODE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = options.token ?? env['POWERNODE_TOKEN'];
  if (!token)
    throw new PowernodeError('unauthenticated', 'no token: set POWERNODE_TOKEN (e.g. export POWERNODE_TOKEN=$(cat .data/admin-token)) or pass --token');
  return { url, token };
}

let requestId = 0;

/**
 * Calls one MCP tool on the gateway (`POST /mcp`, JSON-RPC tools/call) and returns its structured result, or
 * throws the tool's error as a PowernodeError with the platform's code. One code path for every operator command.
 */
export async function callTool<T = Record<string, unknown>>(target: PlatformTarget, tool: string, args: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++requestId, method: 'tools/call', params: { name: tool, arguments: args } }),
    });
  } catch (cause) {
    throw new PowernodeError('rpc_no_responder', `cannot reach the platform at ${target.url}: start it with npm start or set POWERNODE_URL`, { cause });
  }
  const text = await res.text();
  if (!res.ok) throw platformRefusal(res.status, text);
  const reply = JSON.parse(text) as { result?: { isError?: boolean; structuredContent?: unknown; content?: { text: string }[] }; error?: { message: string } };
  if (reply.error) throw new PowernodeError('internal', `MCP error: ${reply.error.message}`);
  const result = reply.result!;
  if (result.isError) {
    const err = (result.structuredContent as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined)?.error;
    throw new PowernodeError(
      (err?.code ?? 'internal') as never,
      err?.message ?? result.content?.[0]?.text ?? 'tool failed',
      err?.details ? { details: err.details } : {},
    );
  }
  return (result.structuredContent ?? JSON.parse(result.content?.[0]?.text ?? '{}')) as T;
}

/**
 * A refusal the platform answered with: its problem document's code and detail when it has a code, otherwise
 * `internal` naming the HTTP status and the detail or text.
 */
export function platformRefusal(status: number | undefined, text: string): PowernodeError {
  let detail = text;
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string };
    if (problem.code) return new PowernodeError(problem.code as never, problem.detail ?? text);
    detail = problem.detail ?? text;
  } catch {
    // not JSON: the text as it came
  }
  return new PowernodeError('internal', `platform answered HTTP ${status}: ${detail}`);
}
