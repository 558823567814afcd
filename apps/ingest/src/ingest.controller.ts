import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, Payload, type NatsContext } from '@nestjs/microservices';
import { z } from 'zod';
import { INGEST_RPC, rpcRequestSchema, versionIdInput } from '@powernode/contracts';
import { rpcHandler } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import type { ModuleBuildIngest } from './module-build-ingest.js';

export const INGEST_SERVICE = Symbol('INGEST_SERVICE');
export const INGEST_LOGGER = Symbol('INGEST_LOGGER');

/** Ingest's commands on NATS: re-verify a version after a trust-policy edit, and a liveness ping. */
@Controller()
export class IngestController {
  private readonly handlers;

  constructor(@Inject(INGEST_SERVICE) ingest: ModuleBuildIngest, @Inject(INGEST_LOGGER) logger: Logger) {
    const o = { logger };
    this.handlers = {
      reverify: rpcHandler(rpcRequestSchema(versionIdInput), ({ input, actor }, c) => ingest.reverify(input.id, actor, c.correlation_id), o),
      ping: rpcHandler(z.unknown(), () => ({ service: 'ingest', ok: true }), o),
    };
  }

  @MessagePattern(INGEST_RPC.reverifyVersion) reverify(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.reverify(p, c); }
  @MessagePattern(INGEST_RPC.ping) ping(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.ping(p, c); }
}
