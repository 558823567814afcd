import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { jsonRpcResponse } from './mcp-endpoint.js';

describe('jsonRpcResponse', () => {
  const data = { versions: [{ id: 'v"1', note: 'line\nbreak \u2028 \\ é 🚀', n: 1.5, ok: true, none: null }], next_cursor: null };

  it('splices the text of a successful tool result in as its structured content, giving the same JSON as serializing it', () => {
    const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
    for (const id of [7, 'req-"1"']) {
      const spliced = jsonRpcResponse(id, result);
      expect(JSON.parse(spliced)).toEqual({ jsonrpc: '2.0', id, result });
      expect(spliced).toBe(JSON.stringify({ jsonrpc: '2.0', id, result }));
    }
  });

  it('serializes tool errors and other results as they are', () => {
    const refused: CallToolResult = {
      isError: true,
      content: [{ type: 'text', text: 'not_found: no module' }],
      structuredContent: { error: { code: 'not_found', message: 'no module' } },
    };
    expect(JSON.parse(jsonRpcResponse(1, refused))).toEqual({ jsonrpc: '2.0', id: 1, result: refused });
    const list = { tools: [{ name: 'system_list_modules', inputSchema: { type: 'object' } }] };
    expect(JSON.parse(jsonRpcResponse(2, list))).toEqual({ jsonrpc: '2.0', id: 2, result: list });
  });
});
