import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { z } from 'zod';
import { PowernodeError } from '@powernode/contracts';
import {
  busNames,
  EventRelay,
  ensureDeadLetterStream,
  ensureEventStream,
  ensureLeaseStream,
  JetStreamLease,
  openEventStore,
  powernodeEventCatalogue,
  type BusNames,
  type EventStore,
  type NatsConnectAuth,
} from '@powernode/events';
import { hostsRelay, loadConfigOrExit, orExitOnInvalidConfig, type RelayHost, type ResolvedConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { natsAuthFromConfig } from './nats-credentials.js';
import { installGracefulShutdown, type Closer } from './shutdown.js';

/** Seconds a service waits, one attempt each, for JetStream to take the platform's streams. */
const STREAM_ATTEMPTS = 30;

export interface ServiceHost<C> {
  service: string;
  config: C;
  logger: Logger;
  store: EventStore;
  nats: NatsConnection;
  /** How this service authenticates to NATS (`NATS_USER`, `NATS_PASSWORD_FILE`); its other connections reuse it. */
  natsAuth: NatsConnectAuth;
  /** The streams and subject prefixes of this platform's bus (`POWERNODE_BUS_NAMESPACE`). */
  bus: BusNames;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** This process's relay when its service hosts the relay: it runs while this replica holds `relayLease`. */
  relay: EventRelay | undefined;
  /** The relay lease this replica contends for (`status().holding`: whether it relays now). */
  relayLease: JetStreamLease | undefined;
  /** Registers something to close on shutdown; closed in reverse registration order, before NATS and the store. */
  onShutdown(closer: Closer): void;
  /** Stops everything this host opened (what SIGTERM/SIGINT run). */
  shutdown(): Promise<void>;
}

export interface ServiceHostOptions<S extends z.ZodRawShape> {
  /** The service's name; the relay runs in this process when `POWERNODE_RELAY_HOST` names it. */
  service: string;
  shape: S;
  env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT handlers that exit the process (entry points); tests pass false. */
  exitOnSignal?: boolean;
}

/**
 * What every service process starts with: validated config, a pino logger, the event store, a NATS
 * connection with the event streams ensured, optionally the relay, and graceful shutdown wiring.
 * The relay is started here only in the service `POWERNODE_RELAY_HOST` names.
 */
export async function startServiceHost<S extends z.ZodRawShape>(options: ServiceHostOptions<S>): Promise<ServiceHost<ResolvedConfig<z.infer<z.ZodObject<S>>>>> {
  const config = loadConfigOrExit(options.service, options.shape, options.env);
  const logger = createLogger(options.service, String(config['LOG_LEVEL' as keyof typeof config] ?? 'info'));
  mkdirSync(config.POWERNODE_DATA_DIR, { recursive: true });
  const natsAuth = orExitOnInvalidConfig(options.service, () => natsAuthFromConfig(config as Parameters<typeof natsAuthFromConfig>[0]));
  const store = await openEventStore(config.EVENT_STORE_URL, powernodeEventCatalogue());
  let nats: NatsConnection;
  try {
    nats = await connect({
      servers: String(config['NATS_URL' as keyof typeof config]).split(','),
      name: options.service,
      maxReconnectAttempts: -1,
      ...natsAuth,
    });
  } catch (cause) {
    await store.close();
    throw new PowernodeError(
      'bus_unavailable',
      `cannot connect to NATS at ${String(config['NATS_URL' as keyof typeof config])}${natsAuth.user ? ` as ${natsAuth.user}` : ''}: ${(cause as Error).message}; start nats-server with JetStream (-js) or set NATS_URL${natsAuth.user ? ', and check NATS_USER and NATS_PASSWORD_FILE' : ''}`,
      { cause },
    );
  }
  const js = jetstream(nats);
  const bus = busNames(config['POWERNODE_BUS_NAMESPACE' as keyof typeof config] as string | undefined);
  const num_replicas = Number(config['POWERNODE_STREAM_REPLICAS' as keyof typeof config] ?? 1);
  // A cluster that has just started answers the JetStream API only once it has elected its meta leader, and a
  // stream with replicas needs as many servers up: wait for both for a while rather than exit at once.
  const jsm = await jetstreamManager(nats, { checkAPI: false });
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureEventStream(jsm, { name: bus.event_stream, subjects: [`${bus.event_subject_prefix}.>`], num_replicas });
      await ensureDeadLetterStream(jsm, { name: bus.dead_letter_stream, subjects: [`${bus.dead_letter_prefix}.>`], num_replicas });
      break;
    } catch (error) {
      if (attempt >= STREAM_ATTEMPTS) {
        await nats.close();
        await store.close();
        throw error;
      }
      logger.warn({ err: error, attempt, of: STREAM_ATTEMPTS }, 'JetStream is not ready for the platform streams yet; retrying in 1 s');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  let relay: EventRelay | undefined;
  let relayLease: JetStreamLease | undefined;
  if (hostsRelay(options.service, { POWERNODE_RELAY_HOST: config['POWERNODE_RELAY_HOST' as keyof typeof config] as RelayHost | undefined })) {
    const leasedRelay = new EventRelay({
      store,
      js,
      checkpoints: store.checkpoints,
      subject_prefix: bus.event_subject_prefix,
      expected_stream: bus.event_stream,
      logger,
    });
    relay = leasedRelay;
    // Every replica of the relay host contends for one lease; only its holder relays, and a holder that dies
    // hands over within the lease's TTL. Two relays at once would only publish duplicates JetStream drops
    // (Nats-Msg-Id), but the lease keeps the checkpoint with one writer.
    await ensureLeaseStream(jsm, { name: bus.lease_stream, subjects: [`${bus.lease_subject_prefix}.>`], num_replicas });
    relayLease = new JetStreamLease({
      js,
      jsm,
      stream: bus.lease_stream,
      subject: `${bus.lease_subject_prefix}.relay`,
      holder: `${options.service}-${hostname()}-${process.pid}`,
      onAcquired: () => leasedRelay.start(),
      onLost: () => leasedRelay.stop(),
      logger,
    });
    await relayLease.start();
  }
  const extra: Closer[] = [];
  const closers: Closer[] = [
    {
      name: 'service',
      close: async () => {
        for (const c of [...extra].reverse()) await c.close();
      },
    },
    { name: 'relay', close: () => relayLease?.stop() },
    { name: 'nats', close: () => nats.drain() },
    { name: 'store', close: () => store.close() },
  ];
  const shutdown = installGracefulShutdown(logger, closers, { exit: options.exitOnSignal !== false });
  logger.info(
    {
      store: store.adapter,
      nats: String(config['NATS_URL' as keyof typeof config]),
      bus_namespace: bus.namespace ?? null,
      relay: relayLease?.status().holding ?? false,
      relay_contender: Boolean(relayLease),
    },
    `${options.service} connected`,
  );
  return {
    service: options.service,
    config,
    logger,
    store,
    nats,
    natsAuth,
    bus,
    js,
    jsm,
    relay,
    relayLease,
    onShutdown: (closer) => extra.push(closer),
    shutdown,
  };
}
