import type { z } from 'zod';
import { rpcRequestSchema } from './actor.js';

/** What a caller's role must grant to run a public operation. */
export type OperationPermission = 'read' | 'change' | 'approve' | 'admin';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/**
 * A REST route. `params` maps a path parameter to the input field it fills where the two names differ (the
 * path speaks REST's `module_name` while the tool keeps its documented argument name).
 */
export interface RestRoute {
  method: HttpMethod;
  path: string;
  status?: number;
  params?: Readonly<Record<string, string>>;
}

/** How the gateway serves an RPC on its public surface: an MCP tool and a REST route with the same input. */
export interface PublicOperation<I> {
  /** MCP tool name, e.g. `system_create_module`. */
  tool: string;
  title: string;
  description: string;
  permission: OperationPermission;
  rest: RestRoute;
  /** How long the gateway waits for the reply; may depend on the input (an operation that says how long it may run). */
  timeout_ms?: number | ((input: I) => number);
}

/** One RPC: the subject it is heard on and the payload its handler accepts. */
export interface RpcDeclaration<P extends string = string, S extends z.ZodType = z.ZodType> {
  pattern: P;
  /** Validates the payload before the handler runs; the handler receives its output. */
  request: S;
}

/**
 * An RPC the gateway forwards from its public surface: the request is `{actor, input}`, `input` is what the
 * tool and the route accept, and `operation` is how they are named and documented.
 */
export interface PublicRpcDeclaration<P extends string = string, I extends z.ZodType = z.ZodType> extends RpcDeclaration<
  P,
  ReturnType<typeof rpcRequestSchema<I>>
> {
  input: I;
  operation: PublicOperation<z.output<I>>;
}

/** Declares an RPC that only services call. */
export function rpc<const P extends string, S extends z.ZodType>(pattern: P, request: S): RpcDeclaration<P, S> {
  return { pattern, request };
}

/** Declares an RPC that the gateway also serves as an MCP tool and a REST route. */
export function publicRpc<const P extends string, I extends z.ZodType>(
  pattern: P,
  input: I,
  operation: PublicOperation<z.output<I>>,
): PublicRpcDeclaration<P, I> {
  return { pattern, request: rpcRequestSchema(input), input, operation };
}

/** The patterns of a service's declarations, by the same names. */
export type RpcPatterns<D extends Record<string, RpcDeclaration>> = { readonly [K in keyof D]: D[K]['pattern'] };

/** The patterns of a service's declarations, for callers that only need the subject. */
export function rpcPatterns<D extends Record<string, RpcDeclaration>>(declarations: D): RpcPatterns<D> {
  return Object.fromEntries(Object.entries(declarations).map(([name, declaration]) => [name, declaration.pattern])) as RpcPatterns<D>;
}
