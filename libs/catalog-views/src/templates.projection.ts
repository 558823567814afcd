import { PowernodeError } from '@powernode/contracts';
import { compareText, entryOf, setEntry } from '@powernode/event-core';
import { catalogProjection } from './catalog-projection.js';
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
  /** module id → ids of the templates listing it (as a set: template id → true), so a deletion touches only those */
  template_ids_by_module: Record<string, Record<string, true>>;
}

/**
 * Stores the changed view in place of the template's view (a view is never changed once stored: a caller may
 * hold it) and keeps `template_ids_by_module` in step with the modules the template lists.
 */
function withTemplate(state: TemplatesReadModel, id: string, change: (t: TemplateView) => TemplateView): TemplatesReadModel {
  const current = entryOf(state.templates, id);
  if (current === undefined) return state;
  const next = change(current);
  if (next === current) return state;
  setEntry(state.templates, id, next);
  for (const m of current.modules) if (!next.modules.some((n) => n.id === m.id)) forgetListing(state, m.id, id);
  for (const m of next.modules) rememberListing(state, m.id, id);
  return state;
}

function rememberListing(state: TemplatesReadModel, moduleId: string, templateId: string): void {
  let templateIds = entryOf(state.template_ids_by_module, moduleId);
  if (templateIds === undefined) setEntry(state.template_ids_by_module, moduleId, (templateIds = {}));
  setEntry(templateIds, templateId, true);
}

function forgetListing(state: TemplatesReadModel, moduleId: string, templateId: string): void {
  const templateIds = entryOf(state.template_ids_by_module, moduleId);
  if (templateIds === undefined) return;
  delete templateIds[templateId];
  // An emptied set is dropped, so the state depends on what is assigned, not on what once was.
  if (Object.keys(templateIds).length === 0) delete state.template_ids_by_module[moduleId];
}

/** Templates with their assigned modules. Updates its state in place. */
export const templatesProjection = catalogProjection<TemplatesReadModel>({
  name: 'catalog-templates',
  // 2: template_ids_by_module added.
  version: 2,
  initialState: () => ({ templates: {}, template_ids_by_module: {} }),
  handlers: {
    TemplateCreated(state, event) {
      const d = event.data;
      for (const m of entryOf(state.templates, d.template_id)?.modules ?? []) forgetListing(state, m.id, d.template_id);
      setEntry(state.templates, d.template_id, {
        id: d.template_id,
        name: d.name,
        description: d.description,
        modules: [],
        created_at: d.created_at,
        updated_at: d.created_at,
      });
      return state;
    },
    ModuleAssignedToTemplate: (state, event) =>
      withTemplate(state, event.data.template_id, (t) =>
        t.modules.some((m) => m.name === event.data.module_name)
          ? t
          : { ...t, modules: [...t.modules, { id: event.data.module_id, name: event.data.module_name }], updated_at: event.data.assigned_at },
      ),
    ModuleUnassignedFromTemplate: (state, event) =>
      withTemplate(state, event.data.template_id, (t) => ({
        ...t,
        modules: t.modules.filter((m) => m.name !== event.data.module_name),
        updated_at: event.data.unassigned_at,
      })),
    ModuleDeleted(state, event) {
      // Deletion is refused while a module is assigned; this keeps the model clean if history says otherwise.
      const moduleId = event.data.module_id;
      for (const templateId of Object.keys(entryOf(state.template_ids_by_module, moduleId) ?? {})) {
        withTemplate(state, templateId, (t) => ({ ...t, modules: t.modules.filter((m) => m.id !== moduleId) }));
      }
      delete state.template_ids_by_module[moduleId];
      return state;
    },
  },
});

/** Templates by name, one page at a time. */
export function listTemplates(state: TemplatesReadModel, page: PageRequest = {}): PageResult<TemplateView> {
  const sorted = Object.values(state.templates).sort((a, b) => compareText(a.name, b.name));
  return paginate(
    sorted,
    (t): SortKey => [t.name],
    (a, b) => compareText(String(a[0]), String(b[0])),
    page,
  );
}

/** One template by id; refuses with `not_found`. The view is a snapshot: later events store a new one. */
export function getTemplate(state: TemplatesReadModel, templateId: string): TemplateView {
  const template = entryOf(state.templates, templateId);
  if (template === undefined)
    throw new PowernodeError('not_found', `no template ${templateId}: list templates with system_list_templates`, { details: { template_id: templateId } });
  return template;
}

/** Names of the templates a module is assigned to (DeleteModule's `assigned_templates`), sorted. */
export function templatesUsingModule(state: TemplatesReadModel, moduleName: string): string[] {
  return Object.values(state.templates)
    .filter((t) => t.modules.some((m) => m.name === moduleName))
    .map((t) => t.name)
    .sort(compareText);
}
