import type { Logger } from '@powernode/runtime';
import { ProjectionRunner, type EventStore, type Projection } from '@powernode/events';
import {
  approvalsProjection,
  modulesProjection,
  templatesProjection,
  versionsProjection,
  webhookRoutesProjection,
  type ApprovalsReadModel,
  type CatalogProjection,
  type ModulesReadModel,
  type TemplatesReadModel,
  type VersionsReadModel,
  type WebhookRoutesReadModel,
} from './domain/index.js';

function runner<S>(projection: CatalogProjection<S>, store: EventStore, logger: Logger): ProjectionRunner<S> {
  return new ProjectionRunner(projection as Projection<S>, store, store.projections, { logger });
}

/** The catalog's read models, each kept current by its own projection runner over the global log. */
export class CatalogReadModels {
  readonly modules: ProjectionRunner<ModulesReadModel>;
  readonly webhookRoutes: ProjectionRunner<WebhookRoutesReadModel>;
  readonly versions: ProjectionRunner<VersionsReadModel>;
  readonly templates: ProjectionRunner<TemplatesReadModel>;
  readonly approvals: ProjectionRunner<ApprovalsReadModel>;

  constructor(store: EventStore, logger: Logger) {
    this.modules = runner(modulesProjection, store, logger);
    this.webhookRoutes = runner(webhookRoutesProjection, store, logger);
    this.versions = runner(versionsProjection, store, logger);
    this.templates = runner(templatesProjection, store, logger);
    this.approvals = runner(approvalsProjection, store, logger);
  }

  all(): ProjectionRunner<unknown>[] {
    return [this.modules, this.webhookRoutes, this.versions, this.templates, this.approvals] as ProjectionRunner<unknown>[];
  }

  byName(name: string): ProjectionRunner<unknown> | undefined {
    return this.all().find((r) => r.name === name);
  }

  async start(): Promise<void> {
    await Promise.all(this.all().map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((r) => r.stop()));
  }

  /** Read-your-writes: resolves once every read model has folded the log up to `position`. */
  async caughtUpTo(position: number): Promise<void> {
    if (position > 0) await Promise.all(this.all().map((r) => r.waitFor(position)));
  }
}
