import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { deadLetterSubject, DurableConsumer, eventFilterSubject, openSqliteProcessedLedger, RpcClient } from '@powernode/events';
import { rpcMicroserviceOptions, RpcHostModule } from '@powernode/events/rpc-microservice';
import type { RegistryAuth } from '@powernode/oci';
import type { ServiceHost } from '@powernode/runtime';
import { PowernodeError } from '@powernode/contracts';
import { CatalogCommands } from './catalog-commands.js';
import { allowedRegistries, type IngestConfig } from './ingest-config.js';
import { ingestRpcHandlers } from './ingest-rpc-handlers.js';
import { ModuleBuildIngest } from './module-build-ingest.js';
import { RegistryClients } from './registry-clients.js';
import { loadIngestTrust } from './trust-material.js';

export { allowedRegistries, ingestConfigShape, type IngestConfig } from './ingest-config.js';

/** What a started ingest exposes for in-process use (tests, the embedded stack). */
export interface StartedIngest {
  ingest: ModuleBuildIngest;
  consumer: DurableConsumer;
}

/** How long a catalog command may take: recording waits until the catalog's read models caught up. */
const CATALOG_TIMEOUT_MS = 15_000;

function registryAuth(config: IngestConfig): RegistryAuth | undefined {
  if (config.OCI_REGISTRY_TOKEN) return { token: config.OCI_REGISTRY_TOKEN };
  const username = config.OCI_REGISTRY_USERNAME ?? '';
  const password = config.OCI_REGISTRY_PASSWORD ?? '';
  if (username === '' && password === '') return undefined;
  if (username === '' || password === '') {
    throw new PowernodeError('config_invalid', 'registry credentials need both OCI_REGISTRY_USERNAME and OCI_REGISTRY_PASSWORD (or OCI_REGISTRY_TOKEN alone)');
  }
  return { username, password };
}

/**
 * Starts ingest on a connected host: trust roots loaded once, the durable consumer of `ModuleBuildReported`
 * (ack after the catalog recorded the outcome; retries with backoff; a delivery left unfinished by a crash is
 * redelivered after `INGEST_ACK_WAIT_MS`), and the NATS microservice answering `ingest.version.reverify` and
 * `ingest.ping`. Logs `ingest ready` once all of it runs.
 */
export async function startIngest(host: ServiceHost<IngestConfig>): Promise<StartedIngest> {
  const config = host.config;
  const { trust, sources } = await loadIngestTrust({
    trustedRoots: config.POWERNODE_TRUSTED_ROOT,
    devSigning: config.POWERNODE_DEV_SIGNING,
    dataDir: config.POWERNODE_DATA_DIR,
  });
  host.logger.info({ trusted_roots: sources }, 'trust roots loaded');
  const registries = new RegistryClients({
    defaultRegistry: config.OCI_REGISTRY,
    auth: registryAuth(config),
    insecure: config.OCI_INSECURE_REGISTRIES,
    allowed: allowedRegistries(config),
    retries: config.OCI_REQUEST_RETRIES,
  });
  const catalog = new CatalogCommands(new RpcClient(host.nats, { default_timeout_ms: CATALOG_TIMEOUT_MS, namespace: host.bus.namespace }));
  const ingest = new ModuleBuildIngest({
    catalog,
    registries,
    trust,
    defaultRegistry: config.OCI_REGISTRY,
    maxDeliver: config.INGEST_MAX_DELIVER,
    logger: host.logger,
  });

  const ledger = await openSqliteProcessedLedger(path.join(config.POWERNODE_DATA_DIR, 'ingest-ledger.sqlite'));
  host.onShutdown({ name: 'ledger', close: async () => ledger.close() });
  const consumer = new DurableConsumer({
    js: host.js,
    jsm: host.jsm,
    stream: host.bus.event_stream,
    durable: config.INGEST_DURABLE,
    filter_subjects: [eventFilterSubject('module', 'ModuleBuildReported', host.bus.event_subject_prefix)],
    dead_letter_subject: deadLetterSubject(config.INGEST_DURABLE, host.bus.dead_letter_prefix),
    handler: (event, delivery) => ingest.handleBuildReported(event, delivery),
    ledger,
    max_deliver: config.INGEST_MAX_DELIVER,
    backoff: { initial_ms: config.INGEST_RETRY_INITIAL_MS, max_ms: config.INGEST_RETRY_MAX_MS },
    ack_wait_ms: config.INGEST_ACK_WAIT_MS,
    // A pull takes a while: messages fetched ahead would sit out their ack wait unattended.
    max_messages: 1,
    logger: host.logger,
  });
  await consumer.start();
  host.onShutdown({ name: 'consumer', close: () => consumer.stop() });

  const app = await NestFactory.createMicroservice<MicroserviceOptions>(RpcHostModule, {
    ...rpcMicroserviceOptions({
      servers: config.NATS_URL.split(','),
      queue: 'ingest',
      namespace: host.bus.namespace,
      auth: host.natsAuth,
      handlers: ingestRpcHandlers({ ingest, logger: host.logger }),
    }),
    logger: false,
  });
  await app.listen();
  host.onShutdown({ name: 'nest', close: () => app.close() });
  host.logger.info(
    { durable: config.INGEST_DURABLE, max_deliver: config.INGEST_MAX_DELIVER, registry: config.OCI_REGISTRY, allowed_registries: allowedRegistries(config) },
    'ingest ready',
  );
  return { ingest, consumer };
}
