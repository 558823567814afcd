import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { RpcTransportContext } from './rpc-handler.js';
import type { RpcReply } from './rpc-reply.js';

const encoder = new TextEncoder();

/**
 * Answers requests on `subject` with a handler made by `rpcHandler`, in Nest's NATS reply packet, so a process
 * that is not a Nest microservice (the gateway) can serve an RPC that `RpcClient` calls like any other.
 * Every subscriber of the subject gets the request (no queue group): a command such as replay reaches each
 * running replica, and the caller takes the first answer.
 */
export function serveRpc(nc: NatsConnection, subject: string, handler: (payload: unknown, transport: RpcTransportContext) => Promise<RpcReply<unknown>>): { stop(): Promise<void> } {
  const subscription: Subscription = nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      void (async () => {
        let packet: { id?: unknown; data?: unknown } | null = null;
        try {
          packet = msg.json<{ id?: unknown; data?: unknown }>();
        } catch {
          // Not JSON: the handler sees no payload and refuses it with validation_failed.
        }
        const response = await handler(packet?.data, { getHeaders: () => msg.headers, getSubject: () => msg.subject });
        msg.respond(encoder.encode(JSON.stringify({ id: packet?.id ?? null, response, isDisposed: true })));
      })();
    },
  });
  return {
    async stop() {
      subscription.unsubscribe();
    },
  };
}
