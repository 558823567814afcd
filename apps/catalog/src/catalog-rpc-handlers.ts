import { CATALOG_RPCS } from '@powernode/contracts';
import { rpcHandlerTable, type RpcContext, type RpcTransportHandler } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import type { CatalogService } from './catalog-service.js';
import type { CatalogReadModels } from './read-models.js';

export interface CatalogRpcDeps {
  service: CatalogService;
  readModels: CatalogReadModels;
  logger: Logger;
}

/** The catalog's commands and queries on NATS, one handler per declaration in `CATALOG_RPCS`. */
export function catalogRpcHandlers({ service: catalog, readModels, logger }: CatalogRpcDeps): Map<string, RpcTransportHandler> {
  // Facts for a command and answers to a query come from the read models, so they first fold everything the
  // store holds: an event appended by another process (a gateway reads it at once) is never missed here.
  const fresh =
    <R, T>(fn: (request: R, context: RpcContext) => Promise<T> | T) =>
    async (request: R, context: RpcContext): Promise<T> => {
      await readModels.caughtUpWithStore();
      return fn(request, context);
    };
  return rpcHandlerTable(
    CATALOG_RPCS,
    {
      createModule: fresh(({ input, actor }, c) => catalog.createModule(input, actor, c.correlation_id)),
      getModule: fresh(({ input }) => catalog.getModule(input.module_name)),
      listModules: fresh(({ input }) => catalog.listModules(input)),
      updateModule: fresh(({ input, actor }, c) => catalog.updateModule(input, actor, c.correlation_id)),
      rotateWebhookSecret: fresh(({ input, actor }, c) => catalog.rotateWebhookSecret(input.module_name, actor, c.correlation_id)),
      deleteModule: fresh(({ input, actor }, c) => catalog.deleteModule(input.name, actor, c.correlation_id)),
      listModuleVersions: fresh(({ input }) => catalog.listModuleVersions(input)),
      getModuleVersion: fresh(({ input }) => catalog.getModuleVersion(input.id)),
      promoteModuleVersion: fresh(({ input, actor }, c) => catalog.promote(input.id, input.to, actor, c.correlation_id)),
      recordBuild: fresh(({ data, causation_id }, c) => catalog.recordBuild(data, c.correlation_id, causation_id)),
      recordRejection: fresh(({ data, causation_id }, c) => catalog.recordRejection(data, c.correlation_id, causation_id)),
      recordReverification: fresh(({ data, causation_id }, c) => catalog.recordReverification(data, c.correlation_id, causation_id)),
      approvePromotion: fresh(({ input, actor }, c) => catalog.approve(input.approval_id, actor, c.correlation_id)),
      rejectPromotion: fresh(({ input, actor }, c) => catalog.reject(input.approval_id, input.reason, actor, c.correlation_id)),
      listApprovals: fresh(({ input }) => catalog.listApprovals(input)),
      listTemplates: fresh(({ input }) => catalog.listTemplates(input)),
      getTemplate: fresh(({ input }) => catalog.getTemplate(input.template_id)),
      createTemplate: fresh(({ input, actor }, c) => catalog.createTemplate(input.name, input.description, actor, c.correlation_id)),
      assignModule: fresh(({ input, actor }, c) => catalog.assign(input.template_id, input.module_name, actor, c.correlation_id)),
      unassignModule: fresh(({ input, actor }, c) => catalog.unassign(input.template_id, input.module_name, actor, c.correlation_id)),
      composePreview: fresh(({ input }) => catalog.composePreview(input.template_id)),
      receiveWebhook: fresh((input, c) => catalog.receiveWebhook(input, c.correlation_id)),
      trustPolicy: fresh(({ module_id }) => catalog.trustPolicy(module_id)),
      replay: ({ projection }) => readModels.rebuild(projection),
      ping: () => ({ service: 'catalog', ok: true }),
    },
    { logger },
  );
}
