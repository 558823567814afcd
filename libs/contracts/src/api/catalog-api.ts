import { z } from 'zod';
import { approvalPolicySchema, moduleCategorySchema, moduleVarietySchema, promotionStateSchema } from '../events/catalog-vocabulary.js';
import { catalogNameSchema, giteaRepoFullNameSchema } from '../events/catalog-events.js';
import { pageInputShape } from './pagination.js';
import { lazySchema } from '../lazy-schema.js';

/*
 * Inputs of the catalog's operations, shared by the gateway (REST + MCP) and the catalog service (NATS).
 * Argument names follow the tutorial; the reference platform's names are accepted as aliases
 * (`module_id`, `module_version_id`, `target_state`, `name`).
 */

/** Copies the first alias present onto the canonical key when the canonical key is absent. */
function withAliases(aliases: Record<string, string[]>) {
  return (value: unknown) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [canonical, names] of Object.entries(aliases)) {
      if (out[canonical] !== undefined) continue;
      for (const alias of names) {
        if (out[alias] !== undefined) {
          out[canonical] = out[alias];
          break;
        }
      }
    }
    for (const names of Object.values(aliases)) for (const alias of names) delete out[alias];
    return out;
  };
}

const regexpSource = z.string().min(1).max(1000);
const globList = z.array(z.string().min(1).max(1000)).max(1000);

export const createModuleInput = lazySchema(() =>
  z.object({
    name: catalogNameSchema,
    display_name: z.string().max(200).optional(),
    description: z.string().max(10_000).optional(),
    category: moduleCategorySchema,
    variety: moduleVarietySchema,
    gitea_repo_full_name: giteaRepoFullNameSchema,
    cosign_identity_regexp: regexpSource,
    cosign_issuer_regexp: regexpSource,
    manifest_yaml: z.string().max(1_000_000).optional(),
    approval_policy: approvalPolicySchema.optional(),
  }),
);
export type CreateModuleInput = z.infer<typeof createModuleInput>;

export const moduleNameInput = lazySchema(() =>
  z.preprocess(withAliases({ module_name: ['name', 'module_id'] }), z.object({ module_name: catalogNameSchema })),
);

export const updateModuleInput = lazySchema(() =>
  z.preprocess(
    withAliases({ module_name: ['name', 'module_id'] }),
    z.object({
      module_name: catalogNameSchema,
      display_name: z.string().max(200).optional(),
      description: z.string().max(10_000).optional(),
      category: moduleCategorySchema.optional(),
      variety: moduleVarietySchema.optional(),
      cosign_identity_regexp: regexpSource.optional(),
      cosign_issuer_regexp: regexpSource.optional(),
      approval_policy: approvalPolicySchema.optional(),
      mask: globList.optional(),
      file_spec: globList.optional(),
      package_spec: z.array(z.string().min(1).max(200)).max(1000).optional(),
      dependency_spec: globList.optional(),
      protected_spec: globList.optional(),
      requires: z.array(z.string().min(1).max(300)).max(200).optional(),
      provides: z.array(z.string().min(1).max(200)).max(200).optional(),
      priority: z.number().int().min(0).max(999).optional(),
    }),
  ),
);

export const deleteModuleInput = lazySchema(() => z.preprocess(withAliases({ name: ['module_name', 'module_id'] }), z.object({ name: catalogNameSchema })));

/** `q` keeps the modules whose name or display name contains it, ignoring case. */
export const listModulesInput = lazySchema(() => z.object({ ...pageInputShape, category: moduleCategorySchema.optional(), q: z.string().max(200).optional() }));

export const listModuleVersionsInput = lazySchema(() =>
  z.preprocess(
    withAliases({ module_name: ['name', 'module_id'] }),
    z.object({ module_name: catalogNameSchema, ...pageInputShape, promotion_state: promotionStateSchema.optional() }),
  ),
);

export const versionIdInput = lazySchema(() =>
  z.preprocess(withAliases({ id: ['module_version_id', 'version_id'] }), z.object({ id: z.string().min(1).max(200) })),
);

export const promoteVersionInput = lazySchema(() =>
  z.preprocess(
    withAliases({ id: ['module_version_id', 'version_id'], to: ['target_state'] }),
    z.object({ id: z.string().min(1).max(200), to: promotionStateSchema }),
  ),
);

export const approvalIdInput = lazySchema(() => z.preprocess(withAliases({ approval_id: ['id'] }), z.object({ approval_id: z.string().min(1).max(200) })));

export const rejectApprovalInput = lazySchema(() =>
  z.preprocess(withAliases({ approval_id: ['id'] }), z.object({ approval_id: z.string().min(1).max(200), reason: z.string().max(2000).optional() })),
);

export const listApprovalsInput = lazySchema(() => z.object({ ...pageInputShape, status: z.enum(['pending', 'granted', 'rejected', 'expired']).optional() }));

export const listTemplatesInput = lazySchema(() => z.object({ ...pageInputShape }));

export const templateIdInput = lazySchema(() =>
  z.preprocess(withAliases({ template_id: ['id', 'node_template_id'] }), z.object({ template_id: z.string().min(1).max(200) })),
);

export const createTemplateInput = lazySchema(() => z.object({ name: catalogNameSchema, description: z.string().max(10_000).optional() }));

export const templateModuleInput = lazySchema(() =>
  z.preprocess(
    withAliases({ template_id: ['id', 'node_template_id'], module_name: ['module_id', 'name'] }),
    z.object({ template_id: z.string().min(1).max(200), module_name: catalogNameSchema }),
  ),
);

export const validateManifestInput = lazySchema(() => z.object({ manifest_yaml: z.string().max(1_000_000) }));
