import type { z } from 'zod';
import type { RpcDeclaration } from '@powernode/contracts';
import { rpcHandler, type RpcContext, type RpcHandlerOptions, type RpcTransportContext } from './rpc-handler.js';
import type { RpcReply } from './rpc-reply.js';

/** What runs a declared RPC: its validated request and the request's context in, the reply's data out. */
export type RpcTableHandler<R> = (request: R, context: RpcContext) => unknown;

/**
 * A service's handlers, one per RPC it declares and named like the declaration: a declaration without a handler
 * (or a handler without a declaration) fails to compile, and each receives the output of its declared schema.
 */
export type RpcHandlerTable<D extends Record<string, RpcDeclaration>> = {
  [K in keyof D]: RpcTableHandler<z.output<D[K]['request']>>;
};

/** A handler as the transport calls it: any payload in, always an `{ok,…}` reply out. */
export type RpcTransportHandler = (payload: unknown, transport?: RpcTransportContext) => Promise<RpcReply<unknown>>;

/**
 * Each declared pattern bound to its handler, wrapped by `rpcHandler` with the declaration's schema: what a
 * service registers with its transport, so neither the pattern nor the schema is named a second time.
 */
export function rpcHandlerTable<D extends Record<string, RpcDeclaration>>(
  declarations: D,
  handlers: RpcHandlerTable<D>,
  options: RpcHandlerOptions = {},
): Map<string, RpcTransportHandler> {
  const table = new Map<string, RpcTransportHandler>();
  for (const name of Object.keys(declarations) as (keyof D & string)[]) {
    const { pattern, request } = declarations[name]!;
    // The mapped type pairs each handler with its declaration's output; TypeScript cannot follow that through a loop.
    const handle = handlers[name] as RpcTableHandler<unknown>;
    table.set(
      pattern,
      rpcHandler(request, (input: unknown, context) => handle(input, context), options),
    );
  }
  return table;
}
