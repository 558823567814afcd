import {
  approvalIdInput,
  CATALOG_RPC,
  INGEST_RPC,
  createModuleInput,
  createTemplateInput,
  deleteModuleInput,
  listApprovalsInput,
  listModulesInput,
  listModuleVersionsInput,
  listTemplatesInput,
  moduleNameInput,
  promoteVersionInput,
  rejectApprovalInput,
  templateIdInput,
  templateModuleInput,
  updateModuleInput,
  validateManifestInput,
  versionIdInput,
} from '@powernode/contracts';
import { catalogQueries } from '@powernode/catalog-views';
import type { RpcClient } from '@powernode/events';
import { validateManifestYaml } from '@powernode/manifest';
import type { GatewayReadModels } from '../read-models/gateway-read-models.js';
import { servedFromCatalogViews } from './catalog-view-operation.js';
import { forwarded } from './forwarded-operation.js';
import { defineOperation, type Operation } from './operation.js';

/** Re-verification pulls the whole artifact again: give it longer than a query. */
const REVERIFY_TIMEOUT_MS = 120_000;

/**
 * The catalog's public operations (CONTRACT §2), each an MCP tool and a REST route: commands are forwarded to
 * the catalog service, reads are answered from the gateway's own copies of the catalog read models.
 */
export function catalogOperations(rpc: RpcClient, readModels: GatewayReadModels): Operation[] {
  return [
    forwarded(rpc, 'system_create_module', CATALOG_RPC.createModule, createModuleInput, 'change', { method: 'POST', path: '/modules', status: 201 }, 'Register a module',
      'Registers a NodeModule (name, category, variety, repository, cosign identity/issuer patterns, optional manifest_yaml to seed its spec). Returns the webhook secret once.'),
    servedFromCatalogViews(readModels, 'system_list_modules', catalogQueries.listModules, listModulesInput, { method: 'GET', path: '/modules' }, 'List modules', 'Lists registered modules, paginated (limit, cursor).'),
    servedFromCatalogViews(readModels, 'system_get_module', catalogQueries.getModule, moduleNameInput, { method: 'GET', path: '/modules/{module_name}' }, 'Get a module', 'One module with its spec, trust policy and assigned templates.'),
    forwarded(rpc, 'system_update_module', CATALOG_RPC.updateModule, updateModuleInput, 'change', { method: 'PATCH', path: '/modules/{module_name}' }, 'Update a module',
      'Updates trust policy (cosign_identity_regexp, cosign_issuer_regexp), approval_policy and spec fields (mask, file_spec, package_spec, dependency_spec, protected_spec, requires, provides, priority). The platform record is authoritative after registration.'),
    forwarded(rpc, 'system_rotate_webhook_secret', CATALOG_RPC.rotateWebhookSecret, moduleNameInput, 'change', { method: 'POST', path: '/modules/{module_name}/webhook-secret' }, 'Rotate the webhook secret',
      'Replaces the module webhook secret; the new one is returned once.'),
    forwarded(rpc, 'system_delete_module', CATALOG_RPC.deleteModule, deleteModuleInput, 'admin', { method: 'DELETE', path: '/modules/{module_name}', params: { module_name: 'name' } }, 'Delete a module',
      'Deletes a module and its versions; refused with module_assigned while any template uses it.'),
    defineOperation({
      tool: 'system_validate_module_manifest',
      title: 'Validate a manifest',
      description: 'Dry-run validation of a module manifest.yaml: schema violations with YAML paths and lines, invalid globs, file_spec/mask conflicts, init commands that cannot be split into argv.',
      permission: 'read',
      input: validateManifestInput,
      rest: { method: 'POST', path: '/manifests/validate' },
      run: async (input) => validateManifestYaml(input.manifest_yaml),
    }),
    servedFromCatalogViews(readModels, 'system_list_module_versions', catalogQueries.listModuleVersions, listModuleVersionsInput, { method: 'GET', path: '/modules/{module_name}/versions' }, 'List module versions',
      'Versions of a module, newest first, with promotion_state, digests, signature verdict and rejection reason.'),
    servedFromCatalogViews(readModels, 'system_get_module_version', catalogQueries.getModuleVersion, versionIdInput, { method: 'GET', path: '/module-versions/{id}' }, 'Get a module version', 'One module version.'),
    forwarded(rpc, 'system_reverify_module_version', INGEST_RPC.reverifyVersion, versionIdInput, 'change', { method: 'POST', path: '/module-versions/{id}/reverify' }, 'Verify a version again',
      "Pulls the version's artifact again and re-checks its signature under the module's current trust policy (after editing cosign_identity_regexp / cosign_issuer_regexp). Returns the version with its new verdict.",
      REVERIFY_TIMEOUT_MS),
    forwarded(rpc, 'system_promote_module_version', CATALOG_RPC.promoteModuleVersion, promoteVersionInput, 'change', { method: 'POST', path: '/module-versions/{id}/promote' }, 'Promote a module version',
      'Moves a version along built → staging → blessed → live (or to retired). Promotion to live under require_approval returns a pending approval instead.'),
    forwarded(rpc, 'system_approve_promotion', CATALOG_RPC.approvePromotion, approvalIdInput, 'approve', { method: 'POST', path: '/approvals/{approval_id}/approve' }, 'Approve a promotion',
      'Approves a pending promotion to live (approver role; not the requester) and applies it.'),
    forwarded(rpc, 'system_reject_promotion', CATALOG_RPC.rejectPromotion, rejectApprovalInput, 'approve', { method: 'POST', path: '/approvals/{approval_id}/reject' }, 'Reject a promotion', 'Rejects a pending promotion to live.'),
    servedFromCatalogViews(readModels, 'system_list_approvals', (views, input) => catalogQueries.listApprovals(views, input, new Date().toISOString()), listApprovalsInput, { method: 'GET', path: '/approvals' }, 'List pending approvals', 'Pending promotion approvals, paginated.'),
    servedFromCatalogViews(readModels, 'system_list_templates', catalogQueries.listTemplates, listTemplatesInput, { method: 'GET', path: '/templates' }, 'List templates', 'NodeTemplates with their assigned modules.'),
    servedFromCatalogViews(readModels, 'system_get_template', catalogQueries.getTemplate, templateIdInput, { method: 'GET', path: '/templates/{template_id}' }, 'Get a template', 'One template by id or name.'),
    forwarded(rpc, 'system_create_template', CATALOG_RPC.createTemplate, createTemplateInput, 'change', { method: 'POST', path: '/templates', status: 201 }, 'Create a template', 'Creates a NodeTemplate.'),
    forwarded(rpc, 'system_assign_module_to_template', CATALOG_RPC.assignModule, templateModuleInput, 'change', { method: 'POST', path: '/templates/{template_id}/modules' }, 'Assign a module to a template',
      'Assigns a module (by name) to a template; refused when already assigned or when it brings a provides conflict or a dependency cycle.'),
    forwarded(rpc, 'system_unassign_module_from_template', CATALOG_RPC.unassignModule, templateModuleInput, 'change', { method: 'DELETE', path: '/templates/{template_id}/modules/{module_name}' }, 'Unassign a module',
      'Removes a module from a template; idempotent.'),
    servedFromCatalogViews(readModels, 'system_compose_preview', catalogQueries.composePreview, templateIdInput, { method: 'GET', path: '/templates/{template_id}/compose-preview' }, 'Compose preview',
      "A template's dependency closure, layer order, each module's effective_mask, and conflicts."),
  ];
}
