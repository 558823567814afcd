import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { PowernodeError } from '@powernode/contracts';

/** The default NATS address when `NATS_URL` is not set. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * How a process authenticates to NATS: nothing for a server that takes anonymous connections, or a user with
 * its password and the inbox prefix its permissions allow it to subscribe to (`natsInboxPrefix`).
 */
export interface NatsConnectAuth {
  user?: string;
  pass?: string;
  inboxPrefix?: string;
}

/** A NATS connection with its JetStream publisher and manager, as every service needs them. */
export interface BusConnection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Flushes pending publishes and acks, then closes. */
  close(): Promise<void>;
}

/** Connects to NATS (`url`, else `NATS_URL`, else 127.0.0.1:4222) and checks that JetStream is enabled. */
export async function connectBus(options: { url?: string; name?: string; auth?: NatsConnectAuth } = {}): Promise<BusConnection> {
  const url = options.url ?? process.env.NATS_URL ?? DEFAULT_NATS_URL;
  let nc: NatsConnection;
  try {
    // Async traces build an Error (with stack) for every request, a JetStream publish included; our errors
    // are wrapped in PowernodeError at the call site, which already carries the caller's stack.
    nc = await connect({ servers: url.split(','), name: options.name ?? 'powernode', noAsyncTraces: true, ...options.auth });
  } catch (cause) {
    throw new PowernodeError('bus_unavailable', `cannot connect to NATS at ${url}: ${(cause as Error).message}; start nats-server or set NATS_URL`, {
      cause,
      details: { url },
    });
  }
  try {
    const jsm = await jetstreamManager(nc);
    return { nc, js: jetstream(nc), jsm, close: () => nc.drain() };
  } catch (cause) {
    await nc.close();
    throw new PowernodeError('bus_unavailable', `NATS at ${url} has no JetStream: ${(cause as Error).message}; run nats-server with -js`, {
      cause,
      details: { url },
    });
  }
}
