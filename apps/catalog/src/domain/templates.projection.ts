import { PowernodeError } from '@powernode/contracts';
import { asCatalogEvent, compareText, type CatalogProjection } from './catalog-projection.js';
import { assertNever } from './decider.js';
import { paginate, type PageRequest, type PageResult, type SortKey } from './pagination.js';

/** A template as `system_list_templates` and the assign/unassign tools return it. */
export interface TemplateView {
  id: string;
  name: string;
  description: string;
  /** Assigned modules in assignment order. */
  modules: { id: string; name: string }[];
  created_at: string;
  updated_at: string;
}

export interface TemplatesReadModel {
  templates: Record<string, TemplateView>;
}

function withTemplate(state: TemplatesReadModel, id: string, change: (t: TemplateView) => TemplateView): TemplatesReadModel {
  const current = state.templates[id];
  return current === undefined ? state : { templates: { ...state.templates, [id]: change(current) } };
}

/** Templates with their assigned modules. */
export const templatesProjection: CatalogProjection<TemplatesReadModel> = {
  name: 'catalog-templates',
  version: 1,
  initialState: () => ({ templates: {} }),
  evolve(state, stored) {
    const event = asCatalogEvent(stored);
    if (event === null) return state;
    switch (event.type) {
      case 'TemplateCreated': {
        const d = event.data;
        return { templates: { ...state.templates, [d.template_id]: { id: d.template_id, name: d.name, description: d.description, modules: [], created_at: d.created_at, updated_at: d.created_at } } };
      }
      case 'ModuleAssignedToTemplate':
        return withTemplate(state, event.data.template_id, (t) =>
          t.modules.some((m) => m.name === event.data.module_name)
            ? t
            : { ...t, modules: [...t.modules, { id: event.data.module_id, name: event.data.module_name }], updated_at: event.data.assigned_at },
        );
      case 'ModuleUnassignedFromTemplate':
        return withTemplate(state, event.data.template_id, (t) => ({ ...t, modules: t.modules.filter((m) => m.name !== event.data.module_name), updated_at: event.data.unassigned_at }));
      case 'ModuleDeleted': {
        // Deletion is refused while a module is assigned; this keeps the model clean if history says otherwise.
        const templates: Record<string, TemplateView> = {};
        for (const [id, t] of Object.entries(state.templates)) {
          templates[id] = t.modules.some((m) => m.id === event.data.module_id) ? { ...t, modules: t.modules.filter((m) => m.id !== event.data.module_id) } : t;
        }
        return { templates };
      }
      case 'ModuleIdentityClaimed':
      case 'ModuleIdentityReleased':
      case 'ModuleRegistered':
      case 'ModuleSpecSeeded':
      case 'ModuleUpdated':
      case 'ModuleTrustPolicyUpdated':
      case 'ModuleWebhookSecretRotated':
      case 'ModuleBuildReported':
      case 'ModuleVersionBuilt':
      case 'ModuleVersionRejected':
      case 'ModuleVersionPromoted':
      case 'PromotionApprovalRequested':
      case 'PromotionApprovalGranted':
      case 'PromotionApprovalRejected':
      case 'PromotionApprovalExpired':
        return state;
      default:
        return assertNever(event);
    }
  },
};

/** Templates by name, one page at a time. */
export function listTemplates(state: TemplatesReadModel, page: PageRequest = {}): PageResult<TemplateView> {
  const sorted = Object.values(state.templates).sort((a, b) => compareText(a.name, b.name));
  return paginate(sorted, (t): SortKey => [t.name], (a, b) => compareText(String(a[0]), String(b[0])), page);
}

/** One template by id; refuses with `not_found`. */
export function getTemplate(state: TemplatesReadModel, templateId: string): TemplateView {
  const template = Object.prototype.hasOwnProperty.call(state.templates, templateId) ? state.templates[templateId] : undefined;
  if (template === undefined) throw new PowernodeError('not_found', `no template ${templateId}: list templates with system_list_templates`, { details: { template_id: templateId } });
  return template;
}

/** Names of the templates a module is assigned to (DeleteModule's `assigned_templates`), sorted. */
export function templatesUsingModule(state: TemplatesReadModel, moduleName: string): string[] {
  return Object.values(state.templates)
    .filter((t) => t.modules.some((m) => m.name === moduleName))
    .map((t) => t.name)
    .sort(compareText);
}
