import { isCatalogEventType, type CatalogEvent } from '@powernode/contracts';
import type { Projection, StoredEventLike } from '@powernode/event-core';

/**
 * A catalog read model: a `Projection` of libs/events that reads only `type` and `data` of each event, so a
 * ProjectionRunner keeps it current, `powernode replay` rebuilds it, and tests fold it over plain events.
 */
export type CatalogProjection<State> = Projection<State, StoredEventLike>;

/** The stored event as a catalog event, or null for other contexts' events (which catalog read models skip). */
export function asCatalogEvent(event: StoredEventLike): CatalogEvent | null {
  return isCatalogEventType(event.type) ? (event as CatalogEvent) : null;
}
