import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** A REST caller with a bearer token; returns status and parsed body. */
export function restClient(baseUrl: string, token: string | undefined) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> => {
    const res = await fetch(`${baseUrl}/api/v1/system${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
}

/** A real MCP client (the SDK's) over streamable HTTP with a bearer token. */
export async function mcpClient(
  baseUrl: string,
  token: string,
): Promise<{
  call: (name: string, args: Record<string, unknown>) => Promise<{ isError: boolean; data: any; text: string }>;
  client: Client;
  close: () => Promise<void>;
}> {
  const client = new Client({ name: 'powernode-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return {
    client,
    call: async (name, args) => {
      const result = (await client.callTool({ name, arguments: args })) as {
        isError?: boolean;
        structuredContent?: unknown;
        content: { type: string; text: string }[];
      };
      const text = result.content.map((c) => c.text).join('\n');
      return { isError: Boolean(result.isError), data: result.structuredContent ?? JSON.parse(text), text };
    },
    close: () => client.close(),
  };
}
