import { isCatalogEventType, isProvisionerEventType, type CatalogEvent, type ProvisionerEvent } from '@powernode/contracts';
import type { Projection, StoredEventLike } from '@powernode/events';

/**
 * A provisioner read model: a `Projection` of libs/events that reads only `type` and `data` of each event, so
 * a ProjectionRunner keeps it current, `powernode replay` rebuilds it, and tests fold it over plain events.
 */
export type ProvisionerProjection<State> = Projection<State, StoredEventLike>;

/** The stored event as a provisioner event, or null for other contexts' events. */
export function asProvisionerEvent(event: StoredEventLike): ProvisionerEvent | null {
  return isProvisionerEventType(event.type) ? (event as ProvisionerEvent) : null;
}

/** The stored event as a catalog event, or null for other contexts' events. */
export function asCatalogEvent(event: StoredEventLike): CatalogEvent | null {
  return isCatalogEventType(event.type) ? (event as CatalogEvent) : null;
}
