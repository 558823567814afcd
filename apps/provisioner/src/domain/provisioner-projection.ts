import { isCatalogEventType, isProvisionerEventType, type CatalogEvent, type ProvisionerEvent } from '@powernode/contracts';

/** The part of a stored event a projection reads (an EventEnvelope of libs/events has it). */
export interface StoredEventLike {
  type: string;
  data: unknown;
}

/**
 * A provisioner read model: a pure fold over the global log, JSON-serialisable state. Structurally a
 * `Projection` of libs/events, so a ProjectionRunner keeps it current and `powernode replay` rebuilds it.
 */
export interface ProvisionerProjection<State> {
  name: string;
  /** Bumped whenever `evolve` changes meaning, so saved states of an older version are rebuilt. */
  version: number;
  initialState: () => State;
  evolve: (state: State, event: StoredEventLike) => State;
}

/** The stored event as a provisioner event, or null for other contexts' events. */
export function asProvisionerEvent(event: StoredEventLike): ProvisionerEvent | null {
  return isProvisionerEventType(event.type) ? (event as ProvisionerEvent) : null;
}

/** The stored event as a catalog event, or null for other contexts' events. */
export function asCatalogEvent(event: StoredEventLike): CatalogEvent | null {
  return isCatalogEventType(event.type) ? (event as CatalogEvent) : null;
}

/** Folds events into a projection's state: what a replay, a runner and a test all do. */
export function foldProjection<State>(projection: ProvisionerProjection<State>, events: Iterable<StoredEventLike>, state: State = projection.initialState()): State {
  let current = state;
  for (const event of events) current = projection.evolve(current, event);
  return current;
}

/** Plain string ordering, for sort comparators. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
