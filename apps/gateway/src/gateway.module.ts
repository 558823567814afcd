import { Module, type DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import type { ServiceHost } from '@powernode/runtime';
import { HealthController, READINESS_CHECKS } from './health/health.controller.js';
import type { ReadinessCheck } from './health/readiness.js';

export interface GatewayDeps {
  host: ServiceHost<{ POWERNODE_DATA_DIR: string }>;
  bootstrapAdminToken: string;
}

export const GATEWAY_DEPS = Symbol('GATEWAY_DEPS');

/** The HTTP edge. Built from already-connected dependencies so tests can start it against real services. */
@Module({})
export class GatewayModule {
  static register(deps: GatewayDeps): DynamicModule {
    const checks: ReadinessCheck[] = [
      { name: 'store', check: () => deps.host.store.ping() },
      {
        name: 'bus',
        check: async () => {
          if (deps.host.nats.isClosed()) throw new Error('NATS connection closed');
          await deps.host.nats.flush();
          await deps.host.jsm.getAccountInfo();
        },
      },
    ];
    return {
      module: GatewayModule,
      controllers: [HealthController],
      providers: [
        { provide: GATEWAY_DEPS, useValue: deps },
        { provide: READINESS_CHECKS, useValue: checks },
      ],
    };
  }

  /** HTTP middleware that must run before Nest's routing: bounded JSON bodies, raw body kept for HMAC. */
  static async configure(app: NestExpressApplication): Promise<void> {
    app.use(
      express.json({
        limit: '1mb',
        type: ['application/json', 'application/*+json'],
        verify: (req, _res, buf) => {
          (req as unknown as { rawBody: Buffer }).rawBody = buf;
        },
      }),
    );
  }
}
