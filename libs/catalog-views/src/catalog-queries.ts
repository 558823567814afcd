import { SEEDED_MODULE_CATEGORIES, templateIdFor, type ModuleCategory, type PromotionState } from '@powernode/contracts';
import { listPendingApprovals, type ApprovalView, type ApprovalsReadModel } from './approvals.projection.js';
import { catalogFactsFromReadModels } from './catalog-facts.js';
import { getModule, listModules, type ModuleView, type ModulesReadModel } from './modules.projection.js';
import { templateComposePreview, type TemplateComposePreview } from './template-closure.js';
import { getTemplate, listTemplates, type TemplateView, type TemplatesReadModel } from './templates.projection.js';
import { getModuleVersion, listModuleVersions, toVersionView, type ModuleVersionView, type VersionsReadModel } from './versions.projection.js';

/** A module as lists show it: with its newest version (by version number) and that version's state. */
export type ModuleListItem = ModuleView & { latest_version: { id: string; version_string: string; promotion_state: PromotionState } | null };

/** The module's newest version, or undefined (none yet, or the versions read model has not folded the module yet). */
function newestVersion(versions: VersionsReadModel, moduleName: string): ModuleVersionView | undefined {
  try {
    return listModuleVersions(versions, moduleName, { limit: 1 }).items[0];
  } catch {
    return undefined;
  }
}

/** The catalog read models a query reads: the catalog's own, or a copy another service folds from the same log. */
export interface CatalogViews {
  readonly modules: ModulesReadModel;
  readonly versions: VersionsReadModel;
  readonly templates: TemplatesReadModel;
  readonly approvals: ApprovalsReadModel;
}

/**
 * The current states of a service's catalog read models: whatever holds one runner per read model, each
 * exposing its state as `current` (the catalog's and the gateway's read model sets both do).
 */
export function currentCatalogViews(readModels: { readonly [K in keyof CatalogViews]: { readonly current: CatalogViews[K] } }): CatalogViews {
  return {
    modules: readModels.modules.current,
    versions: readModels.versions.current,
    templates: readModels.templates.current,
    approvals: readModels.approvals.current,
  };
}

interface Page {
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** A template by id, or by name (the tutorial passes either); not_found names what was asked for. */
export function resolveTemplate(templates: TemplatesReadModel, idOrName: string): TemplateView {
  if (templates.templates[idOrName]) return getTemplate(templates, idOrName);
  return templates.templates[templateIdFor(idOrName)] ?? getTemplate(templates, idOrName);
}

/**
 * The catalog's read operations (CONTRACT §2) as pure functions of the read models, so the catalog service and
 * the gateway, which serves reads from its own copies of these read models, answer with the same code.
 */
export const catalogQueries = {
  getModule(views: CatalogViews, input: { module_name: string }): { module: ModuleView } {
    return { module: getModule(views.modules, input.module_name) };
  },

  listModules(
    views: CatalogViews,
    input: Page & { category?: ModuleCategory | string | undefined; q?: string | undefined },
  ): { modules: ModuleListItem[]; next_cursor: string | null } {
    const q = input.q?.trim().toLowerCase() ?? '';
    // Filters apply before paging, so a page is full whenever more matches follow.
    const page = listModules(
      views.modules,
      { limit: input.limit ?? null, cursor: input.cursor ?? null },
      (m) => (!input.category || m.category === input.category) && (q === '' || m.name.toLowerCase().includes(q) || m.display_name.toLowerCase().includes(q)),
    );
    const modules = page.items.map((m) => {
      const latest = newestVersion(views.versions, m.name);
      return { ...m, latest_version: latest ? { id: latest.id, version_string: latest.version_string, promotion_state: latest.promotion_state } : null };
    });
    return { modules, next_cursor: page.next_cursor };
  },

  listModuleVersions(
    views: CatalogViews,
    input: Page & { module_name: string; promotion_state?: PromotionState | string | undefined },
  ): { versions: ModuleVersionView[]; next_cursor: string | null } {
    // An unknown module is not_found, not an empty list: a typo must not look like a module without builds.
    getModule(views.modules, input.module_name);
    const page = listModuleVersions(views.versions, input.module_name, { limit: input.limit ?? null, cursor: input.cursor ?? null });
    const items = input.promotion_state ? page.items.filter((v) => v.promotion_state === input.promotion_state) : page.items;
    return { versions: items, next_cursor: page.next_cursor };
  },

  getModuleVersion(views: CatalogViews, input: { id: string }): { version: ModuleVersionView } {
    return { version: toVersionView(getModuleVersion(views.versions, input.id)) };
  },

  /** Pending approvals as of `now` (an approval past its deadline is no longer pending, expired or not yet). */
  listApprovals(views: CatalogViews, input: Page, now: string): { approvals: ApprovalView[]; next_cursor: string | null } {
    const page = listPendingApprovals(views.approvals, now, { limit: input.limit ?? null, cursor: input.cursor ?? null });
    return { approvals: page.items, next_cursor: page.next_cursor };
  },

  listTemplates(views: CatalogViews, input: Page): { templates: TemplateView[]; next_cursor: string | null } {
    const page = listTemplates(views.templates, { limit: input.limit ?? null, cursor: input.cursor ?? null });
    return { templates: page.items, next_cursor: page.next_cursor };
  },

  getTemplate(views: CatalogViews, input: { template_id: string }): { template: TemplateView } {
    return { template: resolveTemplate(views.templates, input.template_id) };
  },

  composePreview(views: CatalogViews, input: { template_id: string }): { template: { id: string; name: string }; preview: TemplateComposePreview } {
    const template = resolveTemplate(views.templates, input.template_id);
    const facts = catalogFactsFromReadModels(views.modules, views.versions);
    return {
      template: { id: template.id, name: template.name },
      preview: templateComposePreview(
        template.modules.map((m) => m.name),
        facts,
        SEEDED_MODULE_CATEGORIES,
      ),
    };
  },
};
