import { z } from 'zod';
import {
  APPROVAL_POLICIES,
  DEFAULT_APPROVAL_POLICY,
  MODULE_VARIETIES,
  PowernodeError,
  SEEDED_MODULE_CATEGORIES,
  approvalPolicySchema,
  catalogNameSchema,
  giteaRepoFullNameSchema,
  isPowernodeError,
  moduleCategorySchema,
  moduleSpecSchema,
  moduleVarietySchema,
  parseRequires,
  type ApprovalPolicy,
  type CatalogEventOf,
  type EncryptedSecret,
  type ModuleCategory,
  type ModuleSpec,
  type ModuleVariety,
} from '@powernode/contracts';
import { assertNever, type Decider } from '@powernode/events';
import { validField } from './field-validation.js';
import { emptyModuleSpec, parseManifestDocument, parseManifestYaml, specFromManifest } from './manifest-seed.js';
import { assertSpecGlobsValid } from './spec-globs.js';
import { assertTrustPatternCompiles } from './trust-policy.js';

/*
 * NodeModule (stream `module-<module_id>`): registration, spec and trust-policy updates, webhook secret
 * rotation, deletion. Name and repository uniqueness are claimed in the module registry first (see
 * module-registry.decider.ts); facts held by other aggregates (templates using the module, its versions) come
 * in with the command.
 */

/** The least randomness a webhook secret must carry. */
export const MIN_WEBHOOK_SECRET_BYTES = 32;

export type ModuleEvent =
  | CatalogEventOf<'ModuleRegistered'>
  | CatalogEventOf<'ModuleSpecSeeded'>
  | CatalogEventOf<'ModuleUpdated'>
  | CatalogEventOf<'ModuleTrustPolicyUpdated'>
  | CatalogEventOf<'ModuleWebhookSecretRotated'>
  | CatalogEventOf<'ModuleDeleted'>;

/** A freshly minted webhook secret, already encrypted by the caller; `entropy_bytes` is how many random bytes it holds. */
export interface WebhookSecretInput {
  encrypted: EncryptedSecret;
  entropy_bytes: number;
}

/** Fields an operator may change on a module after registration (trust policy has its own command). */
export interface ModuleChanges {
  display_name?: string;
  description?: string;
  category?: string;
  variety?: string;
  approval_policy?: string;
  mask?: string[];
  file_spec?: string[];
  package_spec?: string[];
  dependency_spec?: string[];
  protected_spec?: string[];
  requires?: string[];
  provides?: string[];
  priority?: number;
}

export type ModuleCommand =
  | {
      type: 'RegisterModule';
      module_id: string;
      name: string;
      display_name?: string | null;
      description?: string | null;
      category: string;
      variety: string;
      gitea_repo_full_name: string;
      cosign_identity_regexp: string;
      cosign_issuer_regexp: string;
      approval_policy?: string | null;
      /** When given, its spec fields seed the record; afterwards the record is authoritative. */
      manifest_yaml?: string | null;
      webhook_secret: WebhookSecretInput;
      now: string;
    }
  /** Seed the spec from a built version's manifest; a no-op once the record has been seeded or edited. */
  | { type: 'SeedModuleSpec'; manifest: unknown; source_version_id: string | null; now: string }
  | { type: 'UpdateModule'; changes: ModuleChanges; now: string }
  | { type: 'UpdateTrustPolicy'; cosign_identity_regexp: string; cosign_issuer_regexp: string; now: string }
  | { type: 'RotateWebhookSecret'; webhook_secret: WebhookSecretInput; now: string }
  | {
      type: 'DeleteModule';
      /** Names of the templates the module is assigned to (from the templates read model). */
      assigned_templates: string[];
      /** Ids of the module's versions, which go with it. */
      version_ids: string[];
      now: string;
    };

export interface ModuleRecord {
  module_id: string;
  name: string;
  display_name: string;
  description: string;
  category: ModuleCategory;
  variety: ModuleVariety;
  gitea_repo_full_name: string;
  cosign_identity_regexp: string;
  cosign_issuer_regexp: string;
  approval_policy: ApprovalPolicy;
  spec: ModuleSpec;
  spec_seeded: boolean;
  manifest_yaml: string | null;
  webhook_secret: EncryptedSecret;
  registered_at: string;
  updated_at: string;
}

export type ModuleState = { status: 'absent' } | { status: 'active'; module: ModuleRecord } | { status: 'deleted'; module_id: string; name: string };

const SPEC_FIELDS = ['mask', 'file_spec', 'package_spec', 'dependency_spec', 'protected_spec', 'requires', 'provides', 'priority'] as const;

const changesSchema = moduleSpecSchema
  .extend({
    display_name: z.string().max(200),
    description: z.string().max(10_000),
    category: moduleCategorySchema,
    variety: moduleVarietySchema,
    approval_policy: approvalPolicySchema,
  })
  .partial()
  .strict();

export const moduleDecider: Decider<ModuleCommand, ModuleState, ModuleEvent> = {
  initialState: () => ({ status: 'absent' }),

  decide(command, state) {
    switch (command.type) {
      case 'RegisterModule':
        return register(command, state);
      case 'SeedModuleSpec': {
        const module = activeModule(state);
        if (module.spec_seeded) return [];
        const manifest = parseManifestDocument(command.manifest);
        assertManifestNamesModule(manifest.name, module.name);
        const spec = specFromManifest(manifest);
        assertSpecGlobsValid(spec, 'manifest.');
        return [
          {
            type: 'ModuleSpecSeeded',
            data: { module_id: module.module_id, name: module.name, spec, source_version_id: command.source_version_id, seeded_at: command.now },
          },
        ];
      }
      case 'UpdateModule': {
        const module = activeModule(state);
        const changes = validField(changesSchema, command.changes, 'changes', 'module_changes_valid');
        if (changes.requires !== undefined) assertRequiresValid(changes.requires, module.name);
        assertSpecGlobsValid(changes, 'changes.');
        const effective = changedFields(module, changes);
        if (Object.keys(effective).length === 0) return [];
        return [{ type: 'ModuleUpdated', data: { module_id: module.module_id, name: module.name, changes: effective, updated_at: command.now } }];
      }
      case 'UpdateTrustPolicy': {
        const module = activeModule(state);
        assertTrustPatternCompiles('cosign_identity_regexp', command.cosign_identity_regexp);
        assertTrustPatternCompiles('cosign_issuer_regexp', command.cosign_issuer_regexp);
        if (command.cosign_identity_regexp === module.cosign_identity_regexp && command.cosign_issuer_regexp === module.cosign_issuer_regexp) return [];
        return [
          {
            type: 'ModuleTrustPolicyUpdated',
            data: {
              module_id: module.module_id,
              name: module.name,
              cosign_identity_regexp: command.cosign_identity_regexp,
              cosign_issuer_regexp: command.cosign_issuer_regexp,
              updated_at: command.now,
            },
          },
        ];
      }
      case 'RotateWebhookSecret': {
        const module = activeModule(state);
        assertSecretStrongEnough(command.webhook_secret);
        return [
          {
            type: 'ModuleWebhookSecretRotated',
            data: { module_id: module.module_id, name: module.name, webhook_secret: command.webhook_secret.encrypted, rotated_at: command.now },
          },
        ];
      }
      case 'DeleteModule': {
        const module = activeModule(state);
        if (command.assigned_templates.length > 0) {
          const templates = [...new Set(command.assigned_templates)].sort();
          throw new PowernodeError(
            'module_assigned',
            `module "${module.name}" is assigned to template(s) ${templates.join(', ')}: unassign it from each before deleting`,
            { details: { module_name: module.name, templates, rule: 'delete_requires_unassigned' } },
          );
        }
        const versionIds = [...new Set(command.version_ids)];
        return [
          {
            type: 'ModuleDeleted',
            data: { module_id: module.module_id, name: module.name, version_ids: versionIds, versions_deleted: versionIds.length, deleted_at: command.now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ModuleRegistered': {
        const { registered_at, ...rest } = event.data;
        return { status: 'active', module: { ...rest, registered_at, updated_at: registered_at } };
      }
      case 'ModuleSpecSeeded':
        return state.status !== 'active'
          ? state
          : { status: 'active', module: { ...state.module, spec: event.data.spec, spec_seeded: true, updated_at: event.data.seeded_at } };
      case 'ModuleUpdated': {
        if (state.status !== 'active') return state;
        const { changes } = event.data;
        const spec = { ...state.module.spec };
        let specTouched = false;
        for (const field of SPEC_FIELDS) {
          if (changes[field] !== undefined) {
            (spec as Record<string, unknown>)[field] = changes[field];
            specTouched = true;
          }
        }
        const module: ModuleRecord = {
          ...state.module,
          display_name: changes.display_name ?? state.module.display_name,
          description: changes.description ?? state.module.description,
          category: changes.category ?? state.module.category,
          variety: changes.variety ?? state.module.variety,
          approval_policy: changes.approval_policy ?? state.module.approval_policy,
          spec,
          // An operator's edit makes the record authoritative: no later manifest seeds over it.
          spec_seeded: state.module.spec_seeded || specTouched,
          updated_at: event.data.updated_at,
        };
        return { status: 'active', module };
      }
      case 'ModuleTrustPolicyUpdated':
        return state.status !== 'active'
          ? state
          : {
              status: 'active',
              module: {
                ...state.module,
                cosign_identity_regexp: event.data.cosign_identity_regexp,
                cosign_issuer_regexp: event.data.cosign_issuer_regexp,
                updated_at: event.data.updated_at,
              },
            };
      case 'ModuleWebhookSecretRotated':
        return state.status !== 'active'
          ? state
          : { status: 'active', module: { ...state.module, webhook_secret: event.data.webhook_secret, updated_at: event.data.rotated_at } };
      case 'ModuleDeleted':
        return { status: 'deleted', module_id: event.data.module_id, name: event.data.name };
      default:
        return assertNever(event);
    }
  },
};

function register(command: Extract<ModuleCommand, { type: 'RegisterModule' }>, state: ModuleState): ModuleEvent[] {
  if (state.status !== 'absent') {
    throw new PowernodeError(
      'already_exists',
      `module id ${command.module_id} is already used${state.status === 'active' ? ` by "${state.module.name}"` : ''}: register with a fresh id`,
      {
        details: { field: 'module_id', module_id: command.module_id, rule: 'module_id_unique' },
      },
    );
  }
  const name = validField(catalogNameSchema, command.name, 'name', 'module_name_format');
  const category = validField(
    z.enum(SEEDED_MODULE_CATEGORIES, { error: `must be one of the seeded categories: ${SEEDED_MODULE_CATEGORIES.join(', ')}` }),
    command.category,
    'category',
    'category_seeded',
  );
  const variety = validField(z.enum(MODULE_VARIETIES, { error: `must be one of ${MODULE_VARIETIES.join(', ')}` }), command.variety, 'variety', 'variety_known');
  const repo = validField(giteaRepoFullNameSchema, command.gitea_repo_full_name, 'gitea_repo_full_name', 'repository_format');
  const approvalPolicy = validField(
    z.enum(APPROVAL_POLICIES, { error: `must be one of ${APPROVAL_POLICIES.join(', ')}` }),
    command.approval_policy ?? DEFAULT_APPROVAL_POLICY,
    'approval_policy',
    'approval_policy_known',
  );
  assertTrustPatternCompiles('cosign_identity_regexp', command.cosign_identity_regexp);
  assertTrustPatternCompiles('cosign_issuer_regexp', command.cosign_issuer_regexp);
  assertSecretStrongEnough(command.webhook_secret);

  const manifestYaml =
    command.manifest_yaml === undefined || command.manifest_yaml === null || command.manifest_yaml.trim() === '' ? null : command.manifest_yaml;
  const manifest = manifestYaml === null ? null : parseManifestYaml(manifestYaml);
  if (manifest !== null) assertManifestNamesModule(manifest.name, name);
  const spec = manifest === null ? emptyModuleSpec() : specFromManifest(manifest);
  assertSpecGlobsValid(spec, 'manifest_yaml.');
  const displayName = validField(z.string().max(200), command.display_name ?? manifest?.display_name ?? name, 'display_name', 'display_name_length');

  return [
    {
      type: 'ModuleRegistered',
      data: {
        module_id: command.module_id,
        name,
        display_name: displayName,
        description: command.description ?? manifest?.description ?? '',
        category,
        variety,
        gitea_repo_full_name: repo,
        cosign_identity_regexp: command.cosign_identity_regexp,
        cosign_issuer_regexp: command.cosign_issuer_regexp,
        approval_policy: approvalPolicy,
        spec,
        spec_seeded: manifest !== null,
        manifest_yaml: manifestYaml,
        webhook_secret: command.webhook_secret.encrypted,
        registered_at: command.now,
      },
    },
  ];
}

function activeModule(state: ModuleState): ModuleRecord {
  switch (state.status) {
    case 'active':
      return state.module;
    case 'absent':
      throw new PowernodeError('not_found', 'no such module: check the name with system_list_modules', { details: { rule: 'module_exists' } });
    case 'deleted':
      throw new PowernodeError('not_found', `module "${state.name}" was deleted: register it again to use the name`, {
        details: { module_id: state.module_id, name: state.name, rule: 'module_exists' },
      });
    default:
      return assertNever(state);
  }
}

function assertManifestNamesModule(manifestName: string, moduleName: string): void {
  if (manifestName !== moduleName) {
    throw new PowernodeError(
      'validation_failed',
      `manifest name "${manifestName}" does not match the module name "${moduleName}": make manifest.yaml's name equal the registered name`,
      {
        details: { field: 'manifest_yaml.name', manifest_name: manifestName, module_name: moduleName, rule: 'manifest_name_matches' },
      },
    );
  }
}

function assertSecretStrongEnough(secret: WebhookSecretInput): void {
  if (!Number.isInteger(secret.entropy_bytes) || secret.entropy_bytes < MIN_WEBHOOK_SECRET_BYTES) {
    throw new PowernodeError(
      'validation_failed',
      `webhook secret carries ${secret.entropy_bytes} random bytes; at least ${MIN_WEBHOOK_SECRET_BYTES} are required`,
      {
        details: { field: 'webhook_secret', entropy_bytes: secret.entropy_bytes, rule: 'webhook_secret_entropy' },
      },
    );
  }
}

function assertRequiresValid(requires: readonly string[], moduleName: string): void {
  requires.forEach((entry, index) => {
    let target: string;
    try {
      target = parseRequires(entry).module;
    } catch (error) {
      throw new PowernodeError('validation_failed', `changes.requires[${index}]: ${isPowernodeError(error) ? error.message : String(error)}`, {
        details: { field: `changes.requires[${index}]`, entry, rule: 'requires_format' },
        cause: error,
      });
    }
    if (target === moduleName) {
      throw new PowernodeError('validation_failed', `changes.requires[${index}]: module "${moduleName}" cannot require itself`, {
        details: { field: `changes.requires[${index}]`, entry, rule: 'no_self_dependency' },
      });
    }
  });
}

/** Only the fields whose value actually differs from the record, so a repeated update is a no-op. */
function changedFields(module: ModuleRecord, changes: z.infer<typeof changesSchema>): z.infer<typeof changesSchema> {
  const current: Record<string, unknown> = {
    display_name: module.display_name,
    description: module.description,
    category: module.category,
    variety: module.variety,
    approval_policy: module.approval_policy,
    ...module.spec,
  };
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(changes)) {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(current[field])) out[field] = value;
  }
  return out as z.infer<typeof changesSchema>;
}
