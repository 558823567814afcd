import { ReadModelSet, type EventStore } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { approvalsProjection, modulesProjection, templatesProjection, versionsProjection, webhookRoutesProjection } from '@powernode/catalog-views';

/** The catalog's read models, each kept current by its own projection runner over the global log. */
export class CatalogReadModels extends ReadModelSet {
  readonly modules = this.register(modulesProjection);
  readonly webhookRoutes = this.register(webhookRoutesProjection);
  readonly versions = this.register(versionsProjection);
  readonly templates = this.register(templatesProjection);
  readonly approvals = this.register(approvalsProjection);

  constructor(store: EventStore, logger: Logger) {
    super(store, { logger });
  }
}
