import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ServiceHost } from '@powernode/runtime';
import { ensureBootstrapAdminToken } from './auth/bootstrap-token.js';
import { GatewayModule, prepareGateway, type GatewayDeps, type GatewayRuntime } from './gateway.module.js';

/** Starts the HTTP edge on a connected host; returns the bound URL and runtime (tests and benchmarks use it). */
export async function startGateway(
  host: ServiceHost<{ POWERNODE_DATA_DIR: string; PORT: number; HOST: string; POWERNODE_ADMIN_TOKEN?: string | undefined }>,
  options: Pick<GatewayDeps, 'extraOperations'> = {},
): Promise<{ url: string; adminToken: string; adminTokenFile: string | undefined; runtime: GatewayRuntime }> {
  const bootstrap = ensureBootstrapAdminToken(host.config.POWERNODE_DATA_DIR, host.config.POWERNODE_ADMIN_TOKEN);
  const runtime = await prepareGateway({ host, bootstrapAdminToken: bootstrap.token, ...options });
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.register(runtime), { logger: false, bodyParser: false });
  GatewayModule.configure(app, runtime);
  await app.listen(host.config.PORT, host.config.HOST);
  // Live event streams never end on their own: end them first, or closing the server would wait for them.
  host.onShutdown({
    name: 'http',
    close: async () => {
      await runtime.tail.stop();
      await app.close();
    },
  });
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${host.config.HOST}:${address.port}`;
  host.logger.info({ url, web_ui: `${url}/app/`, admin_token_file: bootstrap.file ?? null }, 'gateway listening');
  return { url, adminToken: bootstrap.token, adminTokenFile: bootstrap.file, runtime };
}
