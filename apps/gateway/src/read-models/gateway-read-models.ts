import {
  approvalsProjection,
  currentCatalogViews,
  modulesProjection,
  templatesProjection,
  versionsProjection,
  type CatalogViews,
} from '@powernode/catalog-views';
import { ReadModelSet, type EventStore, type Projection } from '@powernode/events';
import type { Logger } from '@powernode/runtime';
import { tokenRegistryProjection, type TokenRegistryState } from '../auth/token-registry.js';

/**
 * The gateway's copy of a catalog read model: the same fold under a name of its own, so that saving or
 * replaying it never touches the catalog's saved state.
 */
function gatewayCopy<S>(projection: Projection<S>): Projection<S> {
  return { ...projection, name: `gateway-${projection.name}` };
}

/**
 * What the gateway folds from the log itself: bearer tokens, and copies of the catalog read models so that
 * catalog reads are answered here, without a round trip to the catalog service. Commands still go to the
 * catalog, which owns the aggregates.
 */
export class GatewayReadModels extends ReadModelSet {
  readonly tokens = this.register(tokenRegistryProjection as Projection<TokenRegistryState>);
  readonly modules = this.register(gatewayCopy(modulesProjection));
  readonly versions = this.register(gatewayCopy(versionsProjection));
  readonly templates = this.register(gatewayCopy(templatesProjection));
  readonly approvals = this.register(gatewayCopy(approvalsProjection));

  constructor(store: EventStore, logger: Logger) {
    super(store, { logger });
  }

  /**
   * The catalog views once they have folded everything the store holds now: a read that follows a write (by
   * this caller through the catalog, or by anyone) sees it. Rejects with `read_model_behind` (503, retryable)
   * when the copies are more than a few seconds behind the log.
   */
  async freshCatalogViews(): Promise<CatalogViews> {
    await this.caughtUpWithStore();
    return currentCatalogViews(this);
  }
}
