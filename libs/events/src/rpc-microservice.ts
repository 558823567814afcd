// A separate entry point (`@powernode/events/rpc-microservice`): it loads Nest's microservices package, which
// the processes that only send requests (the CLI) have no use for.
import { Module } from '@nestjs/common';
import { ServerNats, type CustomStrategy } from '@nestjs/microservices';
import type { NatsConnection, SubscriptionOptions } from '@nats-io/transport-node';
import type { NatsConnectAuth } from './bus/bus-connection.js';
import { rpcSubject } from './bus/bus-namespace.js';
import type { RpcTransportHandler } from './bus/rpc-handler-table.js';

export interface RpcMicroserviceOptions {
  servers: string[];
  /** Queue group: replicas of one service share its requests. */
  queue: string;
  /** `POWERNODE_BUS_NAMESPACE`: the handlers listen on `<namespace>.<pattern>`. */
  namespace?: string | undefined;
  /** The service's handlers by pattern (`rpcHandlerTable`), registered with the transport beside any `@MessagePattern`. */
  handlers?: ReadonlyMap<string, RpcTransportHandler>;
  /** The service's NATS user, password and inbox prefix (`natsAuthFromConfig`); none on an open server. */
  auth?: NatsConnectAuth;
}

/**
 * Nest's NATS server with its subscriptions moved under a bus namespace. Handlers stay registered under their
 * plain patterns (which is what Nest looks them up by when a request arrives), so declarations keep naming
 * `catalog.module.create`; only the subject they are heard on moves.
 */
class NamespacedNatsServer extends ServerNats {
  constructor(
    options: { servers: string[]; queue: string } & NatsConnectAuth,
    private readonly namespace: string | undefined,
    handlers: ReadonlyMap<string, RpcTransportHandler>,
  ) {
    super(options);
    // A handler table goes to the transport directly rather than through generated `@MessagePattern` methods:
    // every handler already validates, catches and answers `{ok,…}`, so Nest's pipes and filters add nothing.
    for (const [pattern, handler] of handlers) this.addHandler(pattern, (payload, context) => handler(payload, context));
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
  return {
    strategy: new NamespacedNatsServer({ servers: options.servers, queue: options.queue, ...options.auth }, options.namespace, options.handlers ?? new Map()),
  };
}

/** The Nest module of a service whose RPCs are all in its handler table: the transport is all it hosts. */
@Module({})
export class RpcHostModule {}
