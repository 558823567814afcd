import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, Payload, type NatsContext } from '@nestjs/microservices';
import { z } from 'zod';
import {
  approvalIdInput,
  CATALOG_RPC,
  createModuleInput,
  createTemplateInput,
  deleteModuleInput,
  listApprovalsInput,
  listModulesInput,
  listModuleVersionsInput,
  listTemplatesInput,
  moduleNameInput,
  moduleVersionBuiltSchema,
  moduleVersionRejectedSchema,
  moduleVersionReverifiedSchema,
  promoteVersionInput,
  rejectApprovalInput,
  rpcRequestSchema,
  templateIdInput,
  templateModuleInput,
  updateModuleInput,
  versionIdInput,
  replayRequestSchema,
} from '@powernode/contracts';
import { rpcHandler, type RpcContext } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { CatalogService } from './catalog-service.js';
import type { CatalogReadModels } from './read-models.js';

export const CATALOG_SERVICE = Symbol('CATALOG_SERVICE');
export const CATALOG_READ_MODELS = Symbol('CATALOG_READ_MODELS');
export const CATALOG_LOGGER = Symbol('CATALOG_LOGGER');

const webhookInput = z.object({
  repository_full_name: z.string().min(1).max(300),
  raw_body_base64: z.string().max(2_000_000),
  signature: z.string().max(200),
  delivery_id: z.string().min(1).max(200),
  // Transport bounds only: the build report decider judges tag and artifact once the signature is checked.
  tag: z.string().max(4096).nullable(),
  artifact_ref: z.string().max(4096).nullable(),
});
const recordInput = <S extends z.ZodType>(schema: S) => z.object({ data: schema, causation_id: z.string().nullable() });
const systemInput = z.object({ module_id: z.string().min(1) });

/** The catalog's commands and queries on NATS; every handler validates its payload and answers `{ok,…}`. */
@Controller()
export class CatalogController {
  private readonly handlers;

  constructor(
    @Inject(CATALOG_SERVICE) catalog: CatalogService,
    @Inject(CATALOG_READ_MODELS) readModels: CatalogReadModels,
    @Inject(CATALOG_LOGGER) logger: Logger,
  ) {
    const o = { logger };
    // Facts for a command and answers to a query come from the read models, so they first fold everything the
    // store holds: an event appended by another process (a gateway reads it at once) is never missed here.
    const handle = <S extends z.ZodType, T>(schema: S, fn: (input: z.output<S>, context: RpcContext) => Promise<T> | T) =>
      rpcHandler(schema, async (input, context) => {
        await readModels.caughtUpWithStore();
        return fn(input, context);
      }, o);
    this.handlers = {
      createModule: handle(rpcRequestSchema(createModuleInput), ({ input, actor }, c) => catalog.createModule(input, actor, c.correlation_id)),
      getModule: handle(rpcRequestSchema(moduleNameInput), ({ input }) => catalog.getModule(input.module_name)),
      listModules: handle(rpcRequestSchema(listModulesInput), ({ input }) => catalog.listModules(input)),
      updateModule: handle(rpcRequestSchema(updateModuleInput), ({ input, actor }, c) => catalog.updateModule(input, actor, c.correlation_id)),
      rotate: handle(rpcRequestSchema(moduleNameInput), ({ input, actor }, c) => catalog.rotateWebhookSecret(input.module_name, actor, c.correlation_id)),
      deleteModule: handle(rpcRequestSchema(deleteModuleInput), ({ input, actor }, c) => catalog.deleteModule(input.name, actor, c.correlation_id)),
      listVersions: handle(rpcRequestSchema(listModuleVersionsInput), ({ input }) => catalog.listModuleVersions(input)),
      getVersion: handle(rpcRequestSchema(versionIdInput), ({ input }) => catalog.getModuleVersion(input.id)),
      promote: handle(rpcRequestSchema(promoteVersionInput), ({ input, actor }, c) => catalog.promote(input.id, input.to, actor, c.correlation_id)),
      approve: handle(rpcRequestSchema(approvalIdInput), ({ input, actor }, c) => catalog.approve(input.approval_id, actor, c.correlation_id)),
      reject: handle(rpcRequestSchema(rejectApprovalInput), ({ input, actor }, c) => catalog.reject(input.approval_id, input.reason, actor, c.correlation_id)),
      listApprovals: handle(rpcRequestSchema(listApprovalsInput), ({ input }) => catalog.listApprovals(input)),
      listTemplates: handle(rpcRequestSchema(listTemplatesInput), ({ input }) => catalog.listTemplates(input)),
      getTemplate: handle(rpcRequestSchema(templateIdInput), ({ input }) => catalog.getTemplate(input.template_id)),
      createTemplate: handle(rpcRequestSchema(createTemplateInput), ({ input, actor }, c) => catalog.createTemplate(input.name, input.description, actor, c.correlation_id)),
      assign: handle(rpcRequestSchema(templateModuleInput), ({ input, actor }, c) => catalog.assign(input.template_id, input.module_name, actor, c.correlation_id)),
      unassign: handle(rpcRequestSchema(templateModuleInput), ({ input, actor }, c) => catalog.unassign(input.template_id, input.module_name, actor, c.correlation_id)),
      preview: handle(rpcRequestSchema(templateIdInput), ({ input }) => catalog.composePreview(input.template_id)),
      webhook: handle(webhookInput, (input, c) => catalog.receiveWebhook(input, c.correlation_id)),
      recordBuild: handle(recordInput(moduleVersionBuiltSchema), ({ data, causation_id }, c) => catalog.recordBuild(data, c.correlation_id, causation_id)),
      recordRejection: handle(recordInput(moduleVersionRejectedSchema), ({ data, causation_id }, c) => catalog.recordRejection(data, c.correlation_id, causation_id)),
      recordReverification: handle(recordInput(moduleVersionReverifiedSchema), ({ data, causation_id }, c) => catalog.recordReverification(data, c.correlation_id, causation_id)),
      trustPolicy: handle(systemInput, ({ module_id }) => catalog.trustPolicy(module_id)),
      replay: rpcHandler(replayRequestSchema, ({ projection }) => readModels.rebuild(projection), o),
      ping: rpcHandler(z.unknown(), () => ({ service: 'catalog', ok: true }), o),
    };
  }

  @MessagePattern(CATALOG_RPC.createModule) createModule(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.createModule(p, c); }
  @MessagePattern(CATALOG_RPC.getModule) getModule(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.getModule(p, c); }
  @MessagePattern(CATALOG_RPC.listModules) listModules(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listModules(p, c); }
  @MessagePattern(CATALOG_RPC.updateModule) updateModule(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.updateModule(p, c); }
  @MessagePattern(CATALOG_RPC.rotateWebhookSecret) rotate(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.rotate(p, c); }
  @MessagePattern(CATALOG_RPC.deleteModule) deleteModule(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.deleteModule(p, c); }
  @MessagePattern(CATALOG_RPC.listModuleVersions) listVersions(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listVersions(p, c); }
  @MessagePattern(CATALOG_RPC.getModuleVersion) getVersion(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.getVersion(p, c); }
  @MessagePattern(CATALOG_RPC.promoteModuleVersion) promote(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.promote(p, c); }
  @MessagePattern(CATALOG_RPC.approvePromotion) approve(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.approve(p, c); }
  @MessagePattern(CATALOG_RPC.rejectPromotion) reject(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.reject(p, c); }
  @MessagePattern(CATALOG_RPC.listApprovals) listApprovals(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listApprovals(p, c); }
  @MessagePattern(CATALOG_RPC.listTemplates) listTemplates(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.listTemplates(p, c); }
  @MessagePattern(CATALOG_RPC.getTemplate) getTemplate(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.getTemplate(p, c); }
  @MessagePattern(CATALOG_RPC.createTemplate) createTemplate(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.createTemplate(p, c); }
  @MessagePattern(CATALOG_RPC.assignModule) assign(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.assign(p, c); }
  @MessagePattern(CATALOG_RPC.unassignModule) unassign(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.unassign(p, c); }
  @MessagePattern(CATALOG_RPC.composePreview) preview(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.preview(p, c); }
  @MessagePattern(CATALOG_RPC.receiveWebhook) webhook(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.webhook(p, c); }
  @MessagePattern(CATALOG_RPC.recordBuild) recordBuild(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.recordBuild(p, c); }
  @MessagePattern(CATALOG_RPC.recordRejection) recordRejection(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.recordRejection(p, c); }
  @MessagePattern(CATALOG_RPC.recordReverification) recordReverification(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.recordReverification(p, c); }
  @MessagePattern(CATALOG_RPC.trustPolicy) trustPolicy(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.trustPolicy(p, c); }
  @MessagePattern(CATALOG_RPC.replay) replay(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.replay(p, c); }
  @MessagePattern(CATALOG_RPC.ping) ping(@Payload() p: unknown, @Ctx() c: NatsContext) { return this.handlers.ping(p, c); }
}
