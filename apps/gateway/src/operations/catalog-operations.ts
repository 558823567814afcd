import {
  CATALOG_RPCS,
  INGEST_RPCS,
  listApprovalsInput,
  listModulesInput,
  listModuleVersionsInput,
  listTemplatesInput,
  moduleNameInput,
  templateIdInput,
  validateManifestInput,
  versionIdInput,
} from '@powernode/contracts';
import { catalogQueries } from '@powernode/catalog-views';
import type { RpcClient } from '@powernode/events';
import { OffThreadManifestValidator } from '@powernode/manifest';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { servedFromCatalogViews } from './catalog-view-operation.js';
import { forwarded } from './forwarded-operation.js';
import { defineOperation, type Operation } from './operation.js';

/**
 * The catalog's public operations (CONTRACT §2), each an MCP tool and a REST route: commands are forwarded to
 * the catalog service, reads are answered from the gateway's own copies of the catalog read models.
 */
/** Manifests anyone with read access sends are read on a worker thread, within a time budget. */
const sharedManifestValidator = new OffThreadManifestValidator();

export function catalogOperations(rpc: RpcClient, readModels: GatewayReadModels, manifests: OffThreadManifestValidator = sharedManifestValidator): Operation[] {
  return [
    forwarded({ rpc, declaration: CATALOG_RPCS.createModule }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_list_modules',
      title: 'List modules',
      description: 'Lists registered modules, paginated (limit, cursor).',
      input: listModulesInput,
      rest: { method: 'GET', path: '/modules' },
      query: catalogQueries.listModules,
    }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_get_module',
      title: 'Get a module',
      description: 'One module with its spec, trust policy and assigned templates.',
      input: moduleNameInput,
      rest: { method: 'GET', path: '/modules/{module_name}' },
      query: catalogQueries.getModule,
    }),
    forwarded({ rpc, declaration: CATALOG_RPCS.updateModule }),
    forwarded({ rpc, declaration: CATALOG_RPCS.rotateWebhookSecret }),
    forwarded({ rpc, declaration: CATALOG_RPCS.deleteModule }),
    defineOperation({
      tool: 'system_validate_module_manifest',
      title: 'Validate a manifest',
      description:
        'Dry-run validation of a module manifest.yaml: schema violations with YAML paths and lines, invalid globs, file_spec/mask conflicts, init commands that cannot be split into argv.',
      permission: 'read',
      input: validateManifestInput,
      rest: { method: 'POST', path: '/manifests/validate' },
      run: async (input) => manifests.validate(input.manifest_yaml),
    }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_list_module_versions',
      title: 'List module versions',
      description: 'Versions of a module, newest first, with promotion_state, digests, signature verdict and rejection reason.',
      input: listModuleVersionsInput,
      rest: { method: 'GET', path: '/modules/{module_name}/versions' },
      query: catalogQueries.listModuleVersions,
    }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_get_module_version',
      title: 'Get a module version',
      description: 'One module version.',
      input: versionIdInput,
      rest: { method: 'GET', path: '/module-versions/{id}' },
      query: catalogQueries.getModuleVersion,
    }),
    forwarded({ rpc, declaration: INGEST_RPCS.reverifyVersion }),
    forwarded({ rpc, declaration: CATALOG_RPCS.promoteModuleVersion }),
    forwarded({ rpc, declaration: CATALOG_RPCS.approvePromotion }),
    forwarded({ rpc, declaration: CATALOG_RPCS.rejectPromotion }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_list_approvals',
      title: 'List pending approvals',
      description: 'Pending promotion approvals, paginated.',
      input: listApprovalsInput,
      rest: { method: 'GET', path: '/approvals' },
      query: (views, input) => catalogQueries.listApprovals(views, input, new Date().toISOString()),
    }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_list_templates',
      title: 'List templates',
      description: 'NodeTemplates with their assigned modules.',
      input: listTemplatesInput,
      rest: { method: 'GET', path: '/templates' },
      query: catalogQueries.listTemplates,
    }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_get_template',
      title: 'Get a template',
      description: 'One template by id or name.',
      input: templateIdInput,
      rest: { method: 'GET', path: '/templates/{template_id}' },
      query: catalogQueries.getTemplate,
    }),
    forwarded({ rpc, declaration: CATALOG_RPCS.createTemplate }),
    forwarded({ rpc, declaration: CATALOG_RPCS.assignModule }),
    forwarded({ rpc, declaration: CATALOG_RPCS.unassignModule }),
    servedFromCatalogViews({
      readModels,
      tool: 'system_compose_preview',
      title: 'Compose preview',
      description: "A template's dependency closure, layer order, each module's effective_mask, and conflicts.",
      input: templateIdInput,
      rest: { method: 'GET', path: '/templates/{template_id}/compose-preview' },
      query: catalogQueries.composePreview,
    }),
  ];
}
