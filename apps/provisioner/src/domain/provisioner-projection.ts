import { isCatalogEventType, isProvisionerEventType, type CatalogEvent, type ProvisionerEvent } from '@powernode/contracts';

/** The part of a stored event a projection reads (an EventEnvelope of libs/events has it). */
export interface StoredEventLike {
  type: string;
  data: unknown;
}

/**
 * A provisioner read model: a pure fold over the global log, JSON-serialisable state. Structurally a
 * `Projection` of libs/events, so a ProjectionRunner keeps it current and `powernode replay` rebuilds it.
 *
 * `evolve(state, event)` updates `state` in place and returns it: the state belongs to the fold that owns it
 * (a runner, a replay, `foldProjection`), so an event costs O(1) amortised instead of a copy of every map, and
 * a replay stays linear in the log. It is still deterministic: the same events folded into fresh initial
 * states give deep-equal states. To fold from a state you must keep, fold into a copy of it
 * (`structuredClone`). Read-model rows are never changed once stored (an event stores a new row object in
 * their place) and queries return new arrays, so whatever a query returned is not changed by later events.
 */
export interface ProvisionerProjection<State> {
  name: string;
  /** Bumped whenever `evolve` changes meaning or the state's shape, so saved states of an older version are rebuilt. */
  version: number;
  initialState: () => State;
  /** Folds one event into `state`, updating it in place; returns `state`. */
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

/** The entry of a read-model map under `key`: own properties only, so a key such as "constructor" is just a key. */
export function entryOf<V>(map: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * Stores `value` under `key` in place as an own, enumerable property. "__proto__" is stored as a plain key
 * (an assignment would replace the map's prototype instead), exactly as JSON.parse gives it back.
 */
export function setEntry<V>(map: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  else map[key] = value;
}

/** Plain string ordering, for sort comparators. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
