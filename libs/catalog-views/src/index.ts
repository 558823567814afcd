/**
 * The catalog's read models as pure folds of catalog events, and the read operations over them. The catalog
 * service keeps them to decide commands and answer its RPCs; the gateway keeps its own copies, folded from the
 * same log, to serve reads without a round trip. Each query function refuses unknown ids with `not_found`.
 */
export { catalogProjection, type CatalogProjection } from './catalog-projection.js';
export { paginate, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type PageRequest, type PageResult, type SortKey } from './pagination.js';
export { manifestDependencyFacts, type ManifestDependencyFacts } from './manifest-facts.js';
export {
  modulesProjection,
  webhookRoutesProjection,
  findModule,
  getModule,
  listModules,
  webhookRouteFor,
  type ModuleView,
  type ModulesReadModel,
  type WebhookRoute,
  type WebhookRoutesReadModel,
} from './modules.projection.js';
export {
  versionsProjection,
  listModuleVersions,
  getModuleVersion,
  versionCandidates,
  moduleVersionIds,
  toVersionView,
  type ModuleVersionRow,
  type ModuleVersionView,
  type VersionsReadModel,
} from './versions.projection.js';
export { templatesProjection, listTemplates, getTemplate, templatesUsingModule, type TemplateView, type TemplatesReadModel } from './templates.projection.js';
export {
  approvalsProjection,
  getApproval,
  listPendingApprovals,
  pendingApprovalForVersion,
  overdueApprovals,
  type ApprovalView,
  type ApprovalsReadModel,
} from './approvals.projection.js';
export { catalogFactsFromReadModels, dependencyView, type CatalogFacts, type CatalogModuleFacts } from './catalog-facts.js';
export {
  templateClosure,
  closureFacts,
  assignmentClosureFacts,
  templateComposePreview,
  type ClosureFacts,
  type TemplateComposePreview,
} from './template-closure.js';
export { catalogQueries, currentCatalogViews, resolveTemplate, type CatalogViews, type ModuleListItem } from './catalog-queries.js';
