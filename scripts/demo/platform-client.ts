import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/**
 * How long one tool call may take. A provision or a promotion can take a while on a busy platform; the SDK's
 * 60 s default would cut such a call short where fetch alone waits 300 s for an answer's headers.
 */
const CALL_TIMEOUT_MS = 300_000;

/** A tool call the platform refused: its error code (`invalid_transition`, `not_found`, …) and message. */
export class ToolCallError extends Error {
  constructor(
    readonly tool: string,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(`${tool}: ${code}: ${message}`);
    this.name = 'ToolCallError';
  }
}

/** The gateway refused the HTTP request before MCP saw it (a bad token, say): its problem's code and detail. */
class HttpRefusal extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'HttpRefusal';
  }
}

/**
 * The SDK reports a refused POST as its status and raw body; the gateway's problem+json names the code a caller
 * acts on, so a refused POST is turned into an HttpRefusal carrying it.
 */
async function fetchKeepingProblems(url: string | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.ok || init?.method !== 'POST') return res;
  const text = await res.text();
  let problem: { code?: unknown; detail?: unknown } | null = null;
  try {
    problem = JSON.parse(text) as { code?: unknown; detail?: unknown } | null;
  } catch {
    // Not a problem document: the status and the text say what happened.
  }
  throw new HttpRefusal(typeof problem?.code === 'string' ? problem.code : `http_${res.status}`, typeof problem?.detail === 'string' ? problem.detail : text);
}

/**
 * Calls MCP tools on the gateway with one bearer token, through the MCP SDK's client over streamable HTTP
 * (`POST /mcp`). It connects (initialize) on the first call; the gateway's endpoint is stateless, so there is no
 * session to end, and `close` only stops the client.
 */
export class PlatformClient {
  private connection: Promise<Client> | undefined;

  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** The same platform with another bearer token (e.g. the approver's). */
  as(token: string): PlatformClient {
    return new PlatformClient(this.url, token);
  }

  /** The tool's structured result; a refusal throws ToolCallError with the platform's code. */
  async call<T = any>(tool: string, args: Record<string, unknown>): Promise<T> {
    let result: CallToolResult;
    try {
      const client = await this.connected();
      result = (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
    } catch (error) {
      if (error instanceof HttpRefusal) throw new ToolCallError(tool, error.code, error.detail, undefined);
      if (error instanceof McpError) throw new ToolCallError(tool, 'mcp_error', error.message, undefined);
      throw error;
    }
    const text = result.content.find((c) => c.type === 'text')?.text;
    if (result.isError) {
      const error = (result.structuredContent as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined)?.error;
      throw new ToolCallError(tool, error?.code ?? 'internal', error?.message ?? text ?? 'tool failed', error?.details);
    }
    return (result.structuredContent ?? JSON.parse(text ?? '{}')) as T;
  }

  /** Stops the client; a later call connects again. */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const client = await connection?.catch(() => undefined);
    await client?.close();
  }

  /** The connected client, connecting once for concurrent callers; a failed connection is tried again next call. */
  private connected(): Promise<Client> {
    if (this.connection === undefined) {
      const connection = this.connect();
      this.connection = connection;
      connection.catch(() => {
        if (this.connection === connection) this.connection = undefined;
      });
    }
    return this.connection;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ name: 'powernode-demo', version: '0.1.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${this.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${this.token}` } },
      fetch: fetchKeepingProblems,
    });
    await client.connect(transport);
    return client;
  }
}
