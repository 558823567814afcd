import { PowernodeError, type ApprovalPolicy, type EncryptedSecret, type ModuleCategory, type ModuleVariety } from '@powernode/contracts';
import { asCatalogEvent, compareText, type CatalogProjection } from './catalog-projection.js';
import { assertNever } from './decider.js';
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

function withModule(state: ModulesReadModel, id: string, change: (m: ModuleView) => ModuleView): ModulesReadModel {
  const current = state.modules[id];
  return current === undefined ? state : { ...state, modules: { ...state.modules, [id]: change(current) } };
}

/** Modules with their record and the templates they are assigned to. */
export const modulesProjection: CatalogProjection<ModulesReadModel> = {
  name: 'catalog-modules',
  version: 1,
  initialState: () => ({ modules: {}, ids_by_name: {} }),
  evolve(state, stored) {
    const event = asCatalogEvent(stored);
    if (event === null) return state;
    switch (event.type) {
      case 'ModuleRegistered': {
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
        return { modules: { ...state.modules, [d.module_id]: view }, ids_by_name: { ...state.ids_by_name, [d.name]: d.module_id } };
      }
      case 'ModuleSpecSeeded':
        return withModule(state, event.data.module_id, (m) => ({ ...m, ...event.data.spec, updated_at: event.data.seeded_at }));
      case 'ModuleUpdated':
        return withModule(state, event.data.module_id, (m) => ({ ...m, ...event.data.changes, updated_at: event.data.updated_at }));
      case 'ModuleTrustPolicyUpdated':
        return withModule(state, event.data.module_id, (m) => ({
          ...m,
          cosign_identity_regexp: event.data.cosign_identity_regexp,
          cosign_issuer_regexp: event.data.cosign_issuer_regexp,
          updated_at: event.data.updated_at,
        }));
      case 'ModuleWebhookSecretRotated':
        return withModule(state, event.data.module_id, (m) => ({ ...m, webhook_secret_rotated_at: event.data.rotated_at, updated_at: event.data.rotated_at }));
      case 'ModuleDeleted': {
        const modules = { ...state.modules };
        delete modules[event.data.module_id];
        const ids = { ...state.ids_by_name };
        if (ids[event.data.name] === event.data.module_id) delete ids[event.data.name];
        return { modules, ids_by_name: ids };
      }
      case 'ModuleAssignedToTemplate':
        return withModule(state, event.data.module_id, (m) => ({
          ...m,
          assigned_templates: [...new Set([...m.assigned_templates, event.data.template_name])].sort(compareText),
        }));
      case 'ModuleUnassignedFromTemplate':
        return withModule(state, event.data.module_id, (m) => ({ ...m, assigned_templates: m.assigned_templates.filter((t) => t !== event.data.template_name) }));
      case 'ModuleIdentityClaimed':
      case 'ModuleIdentityReleased':
      case 'ModuleBuildReported':
      case 'ModuleVersionBuilt':
      case 'ModuleVersionRejected':
      case 'ModuleVersionPromoted':
      case 'PromotionApprovalRequested':
      case 'PromotionApprovalGranted':
      case 'PromotionApprovalRejected':
      case 'PromotionApprovalExpired':
      case 'TemplateCreated':
        return state;
      default:
        return assertNever(event);
    }
  },
};

/** The module registered under `name`, or null. */
export function findModule(state: ModulesReadModel, name: string): ModuleView | null {
  const id = Object.prototype.hasOwnProperty.call(state.ids_by_name, name) ? state.ids_by_name[name] : undefined;
  return id === undefined ? null : (state.modules[id] ?? null);
}

/** The module registered under `name`; refuses with `not_found`. */
export function getModule(state: ModulesReadModel, name: string): ModuleView {
  const module = findModule(state, name);
  if (module === null) throw new PowernodeError('not_found', `no module named "${name}": list modules with system_list_modules`, { details: { module_name: name } });
  return module;
}

/** Modules by name, one page at a time. */
export function listModules(state: ModulesReadModel, page: PageRequest = {}): PageResult<ModuleView> {
  const sorted = Object.values(state.modules).sort((a, b) => compareText(a.name, b.name));
  return paginate(sorted, (m): SortKey => [m.name], (a, b) => compareText(String(a[0]), String(b[0])), page);
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
}

/** Repository → module routing for the CI webhook; holds only ciphertext of the secrets. */
export const webhookRoutesProjection: CatalogProjection<WebhookRoutesReadModel> = {
  name: 'catalog-webhook-routes',
  version: 1,
  initialState: () => ({ routes: {} }),
  evolve(state, stored) {
    const event = asCatalogEvent(stored);
    if (event === null) return state;
    switch (event.type) {
      case 'ModuleRegistered': {
        const d = event.data;
        return {
          routes: {
            ...state.routes,
            [d.gitea_repo_full_name.toLowerCase()]: { module_id: d.module_id, module_name: d.name, gitea_repo_full_name: d.gitea_repo_full_name, webhook_secret: d.webhook_secret },
          },
        };
      }
      case 'ModuleWebhookSecretRotated': {
        const entry = Object.entries(state.routes).find(([, r]) => r.module_id === event.data.module_id);
        if (entry === undefined) return state;
        return { routes: { ...state.routes, [entry[0]]: { ...entry[1], webhook_secret: event.data.webhook_secret } } };
      }
      case 'ModuleDeleted': {
        const routes = Object.fromEntries(Object.entries(state.routes).filter(([, r]) => r.module_id !== event.data.module_id));
        return { routes };
      }
      case 'ModuleIdentityClaimed':
      case 'ModuleIdentityReleased':
      case 'ModuleSpecSeeded':
      case 'ModuleUpdated':
      case 'ModuleTrustPolicyUpdated':
      case 'ModuleBuildReported':
      case 'ModuleVersionBuilt':
      case 'ModuleVersionRejected':
      case 'ModuleVersionPromoted':
      case 'PromotionApprovalRequested':
      case 'PromotionApprovalGranted':
      case 'PromotionApprovalRejected':
      case 'PromotionApprovalExpired':
      case 'TemplateCreated':
      case 'ModuleAssignedToTemplate':
      case 'ModuleUnassignedFromTemplate':
        return state;
      default:
        return assertNever(event);
    }
  },
};

/** The module a repository's webhook deliveries belong to, or null (answer it exactly like a bad signature). */
export function webhookRouteFor(state: WebhookRoutesReadModel, repositoryFullName: string): WebhookRoute | null {
  const key = repositoryFullName.toLowerCase();
  return Object.prototype.hasOwnProperty.call(state.routes, key) ? state.routes[key]! : null;
}
