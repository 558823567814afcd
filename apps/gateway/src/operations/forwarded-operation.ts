import type { z } from 'zod';
import type { PublicRpcDeclaration } from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import { defineOperation, type Operation } from './operation.js';

/** How long a forwarded query or command may take unless its declaration says otherwise. */
const DEFAULT_TIMEOUT_MS = 15_000;

export interface ForwardedOperationOptions<I extends z.ZodType> {
  rpc: RpcClient;
  /** The RPC's one declaration (libs/contracts): pattern, input, tool and route. */
  declaration: PublicRpcDeclaration<string, I>;
}

/**
 * An operation a backing service answers over NATS request/reply: the gateway forwards the validated input with
 * the caller as actor and the request's correlation id, and returns the service's reply.
 */
export function forwarded<I extends z.ZodType>({ rpc, declaration }: ForwardedOperationOptions<I>): Operation<z.output<I>> {
  const { pattern, input, operation } = declaration;
  const timeout = operation.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  return defineOperation({
    tool: operation.tool,
    title: operation.title,
    description: operation.description,
    permission: operation.permission,
    input: input as z.ZodType<z.output<I>>,
    rest: operation.rest,
    run: (payload, ctx) =>
      rpc.request(
        pattern,
        { actor: ctx.principal, input: payload },
        {
          correlation_id: ctx.correlation_id,
          timeout_ms: typeof timeout === 'function' ? timeout(payload) : timeout,
        },
      ),
  });
}
