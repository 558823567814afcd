import { PowernodeError, type ApprovalPolicy, type EncryptedSecret, type ModuleCategory, type ModuleVariety } from '@powernode/contracts';
import { compareText, entryOf, setEntry } from '@powernode/event-core';
import { catalogProjection } from './catalog-projection.js';
import { paginate, type PageRequest, type PageResult, type SortKey } from './pagination.js';

/** A module as `system_get_module` / `system_list_modules` return it. The webhook secret is never part of it. */
export interface ModuleView {
  id: string;
  name: string;
  display_name: string;
  description: string;
  category: ModuleCategory;
  variety: ModuleVariety;
  gitea_repo_full_name: string;
  cosign_identity_regexp: string;
  cosign_issuer_regexp: string;
  approval_policy: ApprovalPolicy;
  mask: string[];
  file_spec: string[];
  package_spec: string[];
  dependency_spec: string[];
  protected_spec: string[];
  requires: string[];
  provides: string[];
  priority: number;
  manifest_yaml: string | null;
  /** Names of the templates the module is assigned to, sorted. */
  assigned_templates: string[];
  webhook_secret_rotated_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ModulesReadModel {
  modules: Record<string, ModuleView>;
  /** module name → module id of the registered module */
  ids_by_name: Record<string, string>;
}

/** Stores the changed view in place of the module's view (a view is never changed once stored: a caller may hold it). */
function withModule(state: ModulesReadModel, id: string, change: (m: ModuleView) => ModuleView): ModulesReadModel {
  const current = entryOf(state.modules, id);
  if (current !== undefined) setEntry(state.modules, id, change(current));
  return state;
}

/** Modules with their record and the templates they are assigned to. Updates its state in place. */
export const modulesProjection = catalogProjection<ModulesReadModel>({
  name: 'catalog-modules',
  version: 1,
  initialState: () => ({ modules: {}, ids_by_name: {} }),
  handlers: {
    ModuleRegistered(state, event) {
      const d = event.data;
      const view: ModuleView = {
        id: d.module_id,
        name: d.name,
        display_name: d.display_name,
        description: d.description,
        category: d.category,
        variety: d.variety,
        gitea_repo_full_name: d.gitea_repo_full_name,
        cosign_identity_regexp: d.cosign_identity_regexp,
        cosign_issuer_regexp: d.cosign_issuer_regexp,
        approval_policy: d.approval_policy,
        ...d.spec,
        manifest_yaml: d.manifest_yaml,
        assigned_templates: [],
        webhook_secret_rotated_at: null,
        created_at: d.registered_at,
        updated_at: d.registered_at,
      };
      setEntry(state.modules, d.module_id, view);
      setEntry(state.ids_by_name, d.name, d.module_id);
      return state;
    },
    ModuleSpecSeeded: (state, event) => withModule(state, event.data.module_id, (m) => ({ ...m, ...event.data.spec, updated_at: event.data.seeded_at })),
    ModuleUpdated: (state, event) => withModule(state, event.data.module_id, (m) => ({ ...m, ...event.data.changes, updated_at: event.data.updated_at })),
    ModuleTrustPolicyUpdated: (state, event) =>
      withModule(state, event.data.module_id, (m) => ({
        ...m,
        cosign_identity_regexp: event.data.cosign_identity_regexp,
        cosign_issuer_regexp: event.data.cosign_issuer_regexp,
        updated_at: event.data.updated_at,
      })),
    ModuleWebhookSecretRotated: (state, event) =>
      withModule(state, event.data.module_id, (m) => ({ ...m, webhook_secret_rotated_at: event.data.rotated_at, updated_at: event.data.rotated_at })),
    ModuleDeleted(state, event) {
      delete state.modules[event.data.module_id];
      if (entryOf(state.ids_by_name, event.data.name) === event.data.module_id) delete state.ids_by_name[event.data.name];
      return state;
    },
    ModuleAssignedToTemplate: (state, event) =>
      withModule(state, event.data.module_id, (m) => ({
        ...m,
        assigned_templates: [...new Set([...m.assigned_templates, event.data.template_name])].sort(compareText),
      })),
    ModuleUnassignedFromTemplate: (state, event) =>
      withModule(state, event.data.module_id, (m) => ({ ...m, assigned_templates: m.assigned_templates.filter((t) => t !== event.data.template_name) })),
  },
});

/** The module registered under `name`, or null. The view is a snapshot: later events store a new one. */
export function findModule(state: ModulesReadModel, name: string): ModuleView | null {
  const id = entryOf(state.ids_by_name, name);
  return id === undefined ? null : (entryOf(state.modules, id) ?? null);
}

/** The module registered under `name`; refuses with `not_found`. */
export function getModule(state: ModulesReadModel, name: string): ModuleView {
  const module = findModule(state, name);
  if (module === null)
    throw new PowernodeError('not_found', `no module named "${name}": list modules with system_list_modules`, { details: { module_name: name } });
  return module;
}

/** Modules by name, one page at a time. */
export function listModules(state: ModulesReadModel, page: PageRequest = {}, include: (m: ModuleView) => boolean = () => true): PageResult<ModuleView> {
  const sorted = Object.values(state.modules)
    .filter(include)
    .sort((a, b) => compareText(a.name, b.name));
  return paginate(
    sorted,
    (m): SortKey => [m.name],
    (a, b) => compareText(String(a[0]), String(b[0])),
    page,
  );
}

/** Where webhook deliveries for a repository go, with the module's encrypted secret (for the HMAC check). */
export interface WebhookRoute {
  module_id: string;
  module_name: string;
  gitea_repo_full_name: string;
  webhook_secret: EncryptedSecret;
}

export interface WebhookRoutesReadModel {
  /** lower-cased repository full name → route */
  routes: Record<string, WebhookRoute>;
  /** module id → keys of `routes` that route to it (a rotation or deletion touches only those) */
  route_keys_by_module: Record<string, string[]>;
}

/** The keys of the routes that belong to a module (an index entry is only trusted when its route agrees). */
function routeKeysOf(state: WebhookRoutesReadModel, moduleId: string): string[] {
  return (entryOf(state.route_keys_by_module, moduleId) ?? []).filter((key) => entryOf(state.routes, key)?.module_id === moduleId);
}

/** Repository → module routing for the CI webhook; holds only ciphertext of the secrets. Updates its state in place. */
export const webhookRoutesProjection = catalogProjection<WebhookRoutesReadModel>({
  name: 'catalog-webhook-routes',
  // 2: route_keys_by_module added.
  version: 2,
  initialState: () => ({ routes: {}, route_keys_by_module: {} }),
  handlers: {
    ModuleRegistered(state, event) {
      const d = event.data;
      const key = d.gitea_repo_full_name.toLowerCase();
      const previous = entryOf(state.routes, key);
      if (previous !== undefined && previous.module_id !== d.module_id) {
        const left = routeKeysOf(state, previous.module_id).filter((k) => k !== key);
        if (left.length === 0) delete state.route_keys_by_module[previous.module_id];
        else setEntry(state.route_keys_by_module, previous.module_id, left);
      }
      setEntry(state.routes, key, {
        module_id: d.module_id,
        module_name: d.name,
        gitea_repo_full_name: d.gitea_repo_full_name,
        webhook_secret: d.webhook_secret,
      });
      const keys = entryOf(state.route_keys_by_module, d.module_id) ?? [];
      if (!keys.includes(key)) setEntry(state.route_keys_by_module, d.module_id, [...keys, key]);
      return state;
    },
    ModuleWebhookSecretRotated(state, event) {
      for (const key of routeKeysOf(state, event.data.module_id))
        setEntry(state.routes, key, { ...state.routes[key]!, webhook_secret: event.data.webhook_secret });
      return state;
    },
    ModuleDeleted(state, event) {
      for (const key of routeKeysOf(state, event.data.module_id)) delete state.routes[key];
      delete state.route_keys_by_module[event.data.module_id];
      return state;
    },
  },
});

/**
 * The module a repository's webhook deliveries belong to, or null (answer it exactly like a bad signature).
 * The route is a snapshot: a rotation stores a new route instead of changing this one.
 */
export function webhookRouteFor(state: WebhookRoutesReadModel, repositoryFullName: string): WebhookRoute | null {
  return entryOf(state.routes, repositoryFullName.toLowerCase()) ?? null;
}
