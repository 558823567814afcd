import type { z } from 'zod';
import type { HttpMethod, RestRoute } from '@powernode/contracts';
import type { Permission, Principal } from '../auth/roles.js';

/** Who is calling and under which correlation id; every command carries both into its events. */
export interface OperationContext {
  principal: Principal;
  correlation_id: string;
}

export type { HttpMethod };

/**
 * One operation of the public surface. The same definition is served as an MCP tool, as a REST route
 * (path parameters, query and body merged into the input) and documented in the OpenAPI document.
 */
export interface Operation<I = any, O = any> {
  /** MCP tool name, e.g. `system_create_module`. */
  tool: string;
  title: string;
  description: string;
  permission: Permission;
  /** Validates and normalises the merged input (aliases of the reference platform included). */
  input: z.ZodType<I>;
  rest: RestRoute;
  run(input: I, context: OperationContext): Promise<O>;
  /** A streamed form of the answer, served over REST to a client whose Accept names its media type. */
  stream?: OperationStream<I>;
}

/**
 * The answer as a sequence of JSON lines sent as they come. `open` resolves once the work has started, so a
 * refusal is thrown like any operation error (and answered with its status); a failure after that becomes a
 * last `{"error":…}` line.
 */
export interface OperationStream<I> {
  /** E.g. `application/x-ndjson`. */
  media_type: string;
  /** What the lines are, for the OpenAPI document. */
  description: string;
  /** JSON Schema of one line, for the OpenAPI document. */
  line_schema: Record<string, unknown>;
  /** Every line an object; `signal` aborts when the client has gone away. */
  open(input: I, context: OperationContext, signal: AbortSignal): Promise<AsyncIterable<object>>;
}

/** Helps TypeScript infer I and O for a literal operation definition. */
export function defineOperation<I, O>(operation: Operation<I, O>): Operation<I, O> {
  return operation;
}
