// A separate entry point (`@powernode/events/rpc-microservice`): it loads Nest's microservices package, which
// the processes that only send requests (the CLI) have no use for.
import { ServerNats, type CustomStrategy } from '@nestjs/microservices';
import type { NatsConnection, SubscriptionOptions } from '@nats-io/transport-node';
import { rpcSubject } from './bus/bus-namespace.js';

export interface RpcMicroserviceOptions {
  servers: string[];
  /** Queue group: replicas of one service share its requests. */
  queue: string;
  /** `POWERNODE_BUS_NAMESPACE`: the handlers listen on `<namespace>.<pattern>`. */
  namespace?: string | undefined;
}

/**
 * Nest's NATS server with its `@MessagePattern` subscriptions moved under a bus namespace. Handlers stay
 * registered under their plain patterns (which is what Nest looks them up by when a request arrives), so
 * controllers and contracts keep naming `CATALOG_RPC.createModule`; only the subject they are heard on moves.
 */
class NamespacedNatsServer extends ServerNats {
  constructor(
    options: { servers: string[]; queue: string },
    private readonly namespace: string | undefined,
  ) {
    super(options);
  }

  override bindEvents(client: NatsConnection): void {
    const namespace = this.namespace;
    // Nest subscribes each pattern through `client.subscribe` and nothing else; this is the one place that
    // knows the namespace.
    const namespaced = { subscribe: (pattern: string, options?: SubscriptionOptions) => client.subscribe(rpcSubject(pattern, namespace), options) };
    super.bindEvents(namespace === undefined ? client : namespaced);
  }
}

/** The `NestFactory.createMicroservice` options of a service answering RPCs on NATS, in its bus namespace. */
export function rpcMicroserviceOptions(options: RpcMicroserviceOptions): CustomStrategy {
  return { strategy: new NamespacedNatsServer({ servers: options.servers, queue: options.queue }, options.namespace) };
}
