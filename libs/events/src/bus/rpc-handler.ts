import type { MsgHdrs } from '@nats-io/transport-node';
import type { z, ZodType } from 'zod';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import { uuidv7 } from '../uuid7.js';
import { defaultBusLogger, type BusLogger } from './bus-logger.js';
import { BUS_HEADERS } from './event-message.js';
import { rpcFailure, rpcOk, type RpcReply } from './rpc-reply.js';

/** What a command or query handler learns about the request besides its payload. */
export interface RpcContext {
  /** From the `Powernode-Correlation-Id` header, or minted here; pass it on to the events the command appends. */
  correlation_id: string;
  /** The NATS subject the request arrived on, when known. */
  subject: string | undefined;
  /** Where the caller wants the parts of a streamed answer (see RpcStreamWriter), when it asked for one. */
  stream_subject: string | undefined;
}

/** The transport context Nest's NATS server hands a handler (`NatsContext` satisfies it), or `serveRpc`'s. */
export interface RpcTransportContext {
  getHeaders?(): MsgHdrs | undefined;
  getSubject?(): string;
}

export interface RpcHandlerOptions {
  logger?: BusLogger;
}

/**
 * Wraps a command or query handler for the transport (see `rpcHandlerTable`): validates the payload with `schema`
 * (refusing with `validation_failed` and field paths), runs `fn`, and always answers with an `RpcReply`:
 * a thrown PowernodeError becomes its error body, anything else is logged and answered as `internal`.
 */
export function rpcHandler<S extends ZodType, T>(
  schema: S,
  fn: (input: z.output<S>, context: RpcContext) => Promise<T> | T,
  options: RpcHandlerOptions = {},
): (payload: unknown, transport?: RpcTransportContext) => Promise<RpcReply<T>> {
  const logger = options.logger ?? defaultBusLogger('rpc');
  return async (payload, transport) => {
    const context: RpcContext = {
      correlation_id: transport?.getHeaders?.()?.get(BUS_HEADERS.correlation_id) || uuidv7(),
      subject: transport?.getSubject?.(),
      stream_subject: transport?.getHeaders?.()?.get(BUS_HEADERS.stream_subject) || undefined,
    };
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
      return rpcFailure({
        code: 'validation_failed',
        message: `invalid request: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
        details: { issues },
      });
    }
    try {
      return rpcOk(await fn(parsed.data, context));
    } catch (error) {
      if (isPowernodeError(error)) return rpcFailure(error.toBody());
      logger.error({ err: error, subject: context.subject, correlation_id: context.correlation_id }, 'unexpected error in request handler');
      return rpcFailure({
        code: 'internal',
        message: `internal error while handling ${context.subject ?? 'the request'}; search the service logs for correlation id ${context.correlation_id}`,
        details: { correlation_id: context.correlation_id },
      });
    }
  };
}

/** Throws the error of a failed reply as a PowernodeError, returns the data otherwise. */
export function unwrapRpcReply<T>(reply: RpcReply<T>): T {
  if (reply.ok) return reply.data;
  throw PowernodeError.fromBody(reply.error);
}
