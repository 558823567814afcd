import type { z } from 'zod';
import type { RpcClient } from '@powernode/events';
import type { Permission } from '../auth/roles.js';
import { defineOperation, type Operation } from './operation.js';

/** How long a forwarded query or command may take unless the operation says otherwise. */
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * An operation a backing service answers over NATS request/reply (`pattern`): the gateway forwards the validated
 * input with the caller as actor and the request's correlation id, and returns the service's reply. `timeout_ms`
 * may depend on the input (an operation whose input says how long it may run).
 */
export function forwarded(
  rpc: RpcClient,
  tool: string,
  pattern: string,
  input: z.ZodType,
  permission: Permission,
  rest: Operation['rest'],
  title: string,
  description: string,
  timeout_ms: number | ((input: any) => number) = DEFAULT_TIMEOUT_MS,
): Operation {
  return defineOperation({
    tool,
    title,
    description,
    permission,
    input,
    rest,
    run: (payload, ctx) =>
      rpc.request(pattern, { actor: ctx.principal, input: payload }, { correlation_id: ctx.correlation_id, timeout_ms: typeof timeout_ms === 'function' ? timeout_ms(payload) : timeout_ms }),
  });
}
