import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { rpcMicroserviceOptions, RpcHostModule } from '@powernode/events/rpc-microservice';
import { z } from 'zod';
import type { ServiceHost } from '@powernode/runtime';
import { baseConfigShape } from '@powernode/runtime';
import { catalogRpcHandlers } from './catalog-rpc-handlers.js';
import { CatalogService } from './catalog-service.js';
import { CatalogReadModels } from './read-models.js';
import { SecretBox } from './secrets/secret-box.js';

export const catalogConfigShape = {
  ...baseConfigShape,
  POWERNODE_SECRET_KEY: z.string().optional(),
} as const;

/**
 * Starts the catalog on a connected host: read models caught up, templates seeded, then the NATS
 * microservice answering commands and queries. Returns the service for in-process use (tests, benchmarks).
 */
export async function startCatalog(
  host: ServiceHost<{ POWERNODE_DATA_DIR: string; NATS_URL: string; POWERNODE_SECRET_KEY?: string | undefined }>,
): Promise<{ service: CatalogService; readModels: CatalogReadModels }> {
  const readModels = new CatalogReadModels(host.store, host.logger);
  await readModels.start();
  host.onShutdown({ name: 'read-models', close: () => readModels.stop() });
  const secrets = SecretBox.loadOrCreate(host.config.POWERNODE_DATA_DIR, host.config.POWERNODE_SECRET_KEY);
  const service = new CatalogService(host.store, readModels, secrets, host.logger);
  await service.seed();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(RpcHostModule, {
    ...rpcMicroserviceOptions({
      servers: host.config.NATS_URL.split(','),
      queue: 'catalog',
      namespace: host.bus.namespace,
      auth: host.natsAuth,
      handlers: catalogRpcHandlers({ service, readModels, logger: host.logger }),
    }),
    logger: false,
  });
  await app.listen();
  host.onShutdown({ name: 'nest', close: () => app.close() });
  host.logger.info('catalog ready');
  return { service, readModels };
}
