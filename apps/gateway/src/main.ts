import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { gatewayConfigShape, startServiceHost } from '@powernode/runtime';
import { ensureBootstrapAdminToken } from './auth/bootstrap-token.js';
import { GatewayModule } from './gateway.module.js';

const host = await startServiceHost({ service: 'gateway', shape: gatewayConfigShape });
const bootstrap = ensureBootstrapAdminToken(host.config.POWERNODE_DATA_DIR, host.config.POWERNODE_ADMIN_TOKEN);
const app = await NestFactory.create<NestExpressApplication>(GatewayModule.register({ host, bootstrapAdminToken: bootstrap.token }), {
  logger: false,
  rawBody: true,
  bodyParser: false,
});
host.onShutdown({ name: 'http', close: () => app.close() });
await GatewayModule.configure(app);
await app.listen(host.config.PORT, host.config.HOST);
host.logger.info({ url: `http://${host.config.HOST}:${host.config.PORT}`, admin_token_file: bootstrap.file ?? null }, 'gateway listening');
