import type { CatalogEvent, CatalogEventType, ProvisionerEvent, ProvisionerEventType } from '@powernode/contracts';
import { defineProjection, type DeclaredProjection, type Projection, type ProjectionDefinition, type StoredEventLike } from '@powernode/events';

/** The events a provisioner read model may fold: its own context's and the catalog's. */
export type ProvisionerReadEvent = ProvisionerEvent | CatalogEvent;

/**
 * A provisioner read model: a `Projection` of libs/events that reads only `type` and `data` of each event, so
 * a ProjectionRunner keeps it current, `powernode replay` rebuilds it, and tests fold it over plain events.
 */
export type ProvisionerProjection<State> = Projection<State, StoredEventLike>;

/**
 * A provisioner read model from one handler per event it folds: it declares those types, so a runner or a fold
 * hands it no other event.
 */
export function provisionerProjection<State>(
  definition: ProjectionDefinition<State, ProvisionerReadEvent>,
): DeclaredProjection<State, ProvisionerEventType | CatalogEventType> {
  return defineProjection(definition);
}
