import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { rpcSubject } from './bus-namespace.js';
import type { RpcTransportContext } from './rpc-handler.js';
import type { RpcTransportHandler } from './rpc-handler-table.js';
import { decodeRpcRequest, encodeRpcReply } from './rpc-packet.js';
import type { RpcReply } from './rpc-reply.js';

/**
 * Answers requests on `subject` with a handler made by `rpcHandler`, in Nest's NATS reply packet, so a process
 * that is not a Nest microservice (the gateway) can serve an RPC that `RpcClient` calls like any other.
 * Every subscriber of the subject gets the request (no queue group): a command such as replay reaches each
 * running replica, and the caller takes the first answer.
 */
export function serveRpc(
  nc: NatsConnection,
  subject: string,
  handler: (payload: unknown, transport: RpcTransportContext) => Promise<RpcReply<unknown>>,
): { stop(): Promise<void> } {
  const subscription: Subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      void (async () => {
        const { id, data } = decodeRpcRequest(msg.data);
        const response = await handler(data, { getHeaders: () => msg.headers, getSubject: () => msg.subject });
        msg.respond(encodeRpcReply(id, response));
      })();
    },
  });
  return {
    async stop() {
      subscription.unsubscribe();
    },
  };
}

/** Serves every handler of a table (`rpcHandlerTable`) on its pattern, in the bus `namespace` when there is one. */
export function serveRpcTable(
  nc: NatsConnection,
  handlers: ReadonlyMap<string, RpcTransportHandler>,
  namespace: string | undefined,
): { stop(): Promise<void> } {
  const served = [...handlers].map(([pattern, handler]) => serveRpc(nc, rpcSubject(pattern, namespace), handler));
  return {
    async stop() {
      for (const s of served) await s.stop();
    },
  };
}
