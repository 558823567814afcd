import { Controller, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { z } from 'zod';
import { rpcHandler } from '@powernode/events';
import { baseConfigShape, type ServiceHost } from '@powernode/runtime';

export const provisionerConfigShape = { ...baseConfigShape } as const;

@Controller()
class ProvisionerController {
  private readonly pingHandler = rpcHandler(z.unknown(), () => ({ service: 'provisioner', ok: true }));

  @MessagePattern('provisioner.ping')
  ping(@Payload() p: unknown) {
    return this.pingHandler(p);
  }
}

@Module({})
class ProvisionerModule {
  static register(): DynamicModule {
    return { module: ProvisionerModule, controllers: [ProvisionerController] };
  }
}

/** Starts the provisioner's NATS microservice on a connected host. */
export async function startProvisioner(host: ServiceHost<{ NATS_URL: string }>): Promise<void> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ProvisionerModule.register(), {
    transport: Transport.NATS,
    options: { servers: host.config.NATS_URL.split(','), queue: 'provisioner' },
    logger: false,
  });
  await app.listen();
  host.onShutdown({ name: 'nest', close: () => app.close() });
  host.logger.info('provisioner ready');
}
