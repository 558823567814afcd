import type { CatalogEvent, CatalogEventType } from '@powernode/contracts';
import { defineProjection, type DeclaredProjection, type Projection, type ProjectionDefinition, type StoredEventLike } from '@powernode/event-core';

/**
 * A catalog read model: a `Projection` of libs/events that reads only `type` and `data` of each event, so a
 * ProjectionRunner keeps it current, `powernode replay` rebuilds it, and tests fold it over plain events.
 */
export type CatalogProjection<State> = Projection<State, StoredEventLike>;

/**
 * A catalog read model from one handler per catalog event it folds: it declares those types, so a runner or a
 * fold hands it no other event.
 */
export function catalogProjection<State>(definition: ProjectionDefinition<State, CatalogEvent>): DeclaredProjection<State, CatalogEventType> {
  return defineProjection(definition);
}
