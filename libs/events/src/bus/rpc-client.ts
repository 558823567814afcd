import { connect, errors as natsErrors, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import { isPowernodeError, PowernodeError, type RpcDeclaration } from '@powernode/contracts';
import { uuidv7 } from '../uuid7.js';
import type { NatsConnectAuth } from './bus-connection.js';
import { rpcSubject } from './bus-namespace.js';
import { BUS_HEADERS } from './event-message.js';
import { decodeRpcReply, encodeRpcRequest } from './rpc-packet.js';
import type { RpcTransportContext } from './rpc-handler.js';
import { rpcFailure, rpcOk, rpcReplySchema, type RpcReply } from './rpc-reply.js';
import { readStreamedReply, type ReadStreamedReplyOptions, type StreamedReplyItem } from './rpc-stream.js';

export interface RpcRequestOptions {
  /** How long to wait for the reply. Default: the client's default (5000 ms). */
  timeout_ms?: number;
  /** Carried in the `Powernode-Correlation-Id` header; minted when absent. */
  correlation_id?: string;
}

export interface RpcClientOptions {
  default_timeout_ms?: number;
  /** The services' `POWERNODE_BUS_NAMESPACE`: requests go to `<namespace>.<pattern>`. Default none. */
  namespace?: string | undefined;
}

/**
 * Sends commands and queries to Nest microservices listening with `Transport.NATS` (`@MessagePattern`),
 * speaking Nest's NATS packet format over a plain NATS request, so that "nobody listens" is reported by the
 * server at once (`rpc_no_responder`) instead of surfacing as a timeout.
 */
export class RpcClient {
  private readonly defaultTimeoutMs: number;
  private readonly namespace: string | undefined;

  constructor(
    private readonly nc: NatsConnection,
    options: RpcClientOptions = {},
    private readonly ownsConnection = false,
  ) {
    this.defaultTimeoutMs = options.default_timeout_ms ?? 5000;
    this.namespace = options.namespace;
  }

  /** Connects to NATS (`servers`, e.g. `process.env.NATS_URL`) and returns a client that closes the connection on `close()`. */
  static async connect(servers: string | string[], options: RpcClientOptions = {}, auth: NatsConnectAuth = {}): Promise<RpcClient> {
    try {
      // No async traces: a failed request becomes a PowernodeError thrown from request(), with the caller's stack.
      return new RpcClient(await connect({ servers, name: 'powernode-rpc-client', noAsyncTraces: true, ...auth }), options, true);
    } catch (cause) {
      throw new PowernodeError(
        'bus_unavailable',
        `cannot connect to NATS at ${String(servers)}: ${(cause as Error).message}; check NATS_URL and that nats-server runs`,
        {
          cause,
          details: { servers },
        },
      );
    }
  }

  /**
   * Sends `payload` to the handler of `pattern` and returns its data. Throws the handler's PowernodeError
   * (code from the reply), `rpc_no_responder` when no service listens, `rpc_timeout` when none answers in time.
   */
  async request<T>(pattern: string, payload: unknown, options: RpcRequestOptions = {}): Promise<T> {
    return this.send<T>(pattern, payload, options, undefined);
  }

  /** `request` for a declared RPC: a payload its declaration would refuse fails to compile. */
  async call<D extends RpcDeclaration, T>(declaration: D, payload: z.input<D['request']>, options: RpcRequestOptions = {}): Promise<T> {
    return this.send<T>(declaration.pattern, payload, options, undefined);
  }

  /**
   * Sends `payload` to a handler that streams its answer (RpcStreamWriter) and yields its parts as they come,
   * then its end. `timeout_ms` bounds the whole answer; errors as for `request`, plus `stream_interrupted`.
   */
  requestStream<T>(
    pattern: string,
    payload: unknown,
    options: RpcRequestOptions & Omit<ReadStreamedReplyOptions, 'pattern'> = {},
  ): AsyncGenerator<StreamedReplyItem<T>, void, undefined> {
    const { end_grace_ms, signal } = options;
    return readStreamedReply<T>(this.nc, (streamSubject) => this.send(pattern, payload, options, streamSubject), {
      pattern,
      ...(end_grace_ms === undefined ? {} : { end_grace_ms }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /**
   * Hands a request this service received on to another handler of the same pattern (another namespace's, e.g.
   * the host that holds what it names) and returns that handler's reply envelope: the request keeps its
   * correlation id and stream subject, so the other handler streams its parts straight to the original caller.
   */
  async forward(
    pattern: string,
    payload: unknown,
    transport: RpcTransportContext | undefined,
    options: { timeout_ms?: number } = {},
  ): Promise<RpcReply<unknown>> {
    const headers = transport?.getHeaders?.();
    const correlation_id = headers?.get(BUS_HEADERS.correlation_id) || undefined;
    const streamSubject = headers?.get(BUS_HEADERS.stream_subject) || undefined;
    try {
      return rpcOk(await this.send<unknown>(pattern, payload, { ...options, ...(correlation_id === undefined ? {} : { correlation_id }) }, streamSubject));
    } catch (error) {
      if (isPowernodeError(error)) return rpcFailure(error.toBody());
      throw error;
    }
  }

  private async send<T>(pattern: string, payload: unknown, options: RpcRequestOptions, streamSubject: string | undefined): Promise<T> {
    const timeout = options.timeout_ms ?? this.defaultTimeoutMs;
    const correlationId = options.correlation_id ?? uuidv7();
    const h = natsHeaders();
    h.set(BUS_HEADERS.correlation_id, correlationId);
    if (streamSubject !== undefined) h.set(BUS_HEADERS.stream_subject, streamSubject);
    let reply: Uint8Array;
    try {
      const msg = await this.nc.request(rpcSubject(pattern, this.namespace), encodeRpcRequest({ pattern, data: payload, id: uuidv7() }), {
        timeout,
        headers: h,
      });
      reply = msg.data;
    } catch (error) {
      throw this.transportError(error, pattern, timeout, correlationId);
    }
    const decoded = decodeRpcReply(reply);
    if (decoded.kind === 'malformed') {
      throw new PowernodeError(
        'internal',
        `the handler of ${pattern} answered with something that is not a Nest reply packet; check that it is a Nest microservice`,
        {
          details: { pattern, correlation_id: correlationId },
        },
      );
    }
    if (decoded.kind === 'failed') {
      throw new PowernodeError('internal', `the handler of ${pattern} failed outside its reply envelope: ${decoded.message}; wrap it with rpcHandler()`, {
        details: { pattern, correlation_id: correlationId },
      });
    }
    const parsed = rpcReplySchema.safeParse(decoded.response);
    if (!parsed.success) {
      throw new PowernodeError('internal', `the handler of ${pattern} answered without an {ok, data | error} envelope; wrap it with rpcHandler()`, {
        details: { pattern, correlation_id: correlationId },
      });
    }
    if (parsed.data.ok) return parsed.data.data as T;
    throw PowernodeError.fromBody(parsed.data.error);
  }

  /** Closes the NATS connection when this client opened it. */
  async close(): Promise<void> {
    if (this.ownsConnection) await this.nc.close();
  }

  private transportError(error: unknown, pattern: string, timeout: number, correlationId: string): PowernodeError {
    const details = { pattern, correlation_id: correlationId, ...(this.namespace === undefined ? {} : { namespace: this.namespace }) };
    if (error instanceof natsErrors.RequestError && error.isNoResponders()) {
      const where = this.namespace === undefined ? '' : ` in bus namespace ${this.namespace}`;
      return new PowernodeError(
        'rpc_no_responder',
        `no service handles ${pattern}${where}: start the service that owns it, or check the pattern name and POWERNODE_BUS_NAMESPACE`,
        { cause: error, details },
      );
    }
    if (error instanceof natsErrors.TimeoutError || (error instanceof Error && error.cause instanceof natsErrors.TimeoutError)) {
      return new PowernodeError(
        'rpc_timeout',
        `no reply to ${pattern} within ${timeout} ms: the service is overloaded or stuck; retry later or raise timeout_ms`,
        {
          cause: error,
          details: { ...details, timeout_ms: timeout },
        },
      );
    }
    if (error instanceof natsErrors.InvalidArgumentError && /max_payload/.test(error.message)) {
      // Not the bus failing: this request is larger than one message may be on this server.
      const max_payload = this.nc.info?.max_payload;
      return new PowernodeError(
        'payload_too_large',
        `${pattern}: the request is larger than the NATS server's max_payload (${max_payload ?? 'unknown'} bytes); send less, or raise max_payload`,
        {
          cause: error,
          details: { ...details, ...(max_payload === undefined ? {} : { max_payload }) },
        },
      );
    }
    return new PowernodeError('bus_unavailable', `cannot send ${pattern} over NATS: ${(error as Error)?.message ?? String(error)}; check the NATS connection`, {
      cause: error,
      details,
    });
  }
}
