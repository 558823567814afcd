import type { EventEnvelope } from './envelope.js';

/** The part of a stored event a projection reads (an EventEnvelope has it; so do a context's event fixtures). */
export interface StoredEventLike {
  type: string;
  data: unknown;
}

/**
 * A read model as a pure fold over the global log. `version` is bumped when `evolve` changes meaning (or the
 * state's shape), which makes a saved state of an older version be discarded and rebuilt from position 0.
 *
 * `evolve(state, event)` may update `state` in place and return it: the state belongs to the fold that owns it
 * (a runner, a replay, `foldEvents`), so an event costs O(1) amortised and a replay stays linear in the log
 * instead of copying every map per event. It must still be deterministic (the same events folded into fresh
 * initial states give deep-equal, JSON-serialisable states). Whoever must keep a state while folding on folds
 * into a copy of it (`structuredClone`); what a projection's queries hand out must not change when later
 * events are folded (new arrays, rows replaced rather than changed).
 *
 * A projection that reads only `type` and `data` declares `TEvent = StoredEventLike`: it is still a
 * `Projection<TState>` for a runner, and tests fold it over plain events without envelopes.
 */
export interface Projection<TState, TEvent extends StoredEventLike = EventEnvelope> {
  name: string;
  /** Bumped whenever `evolve` changes meaning or the state's shape, so saved states of an older version are rebuilt. */
  version: number;
  initialState: () => TState;
  /**
   * The event types `evolve` folds. A runner, a replay and `foldEvents` hand it no other event; a projection
   * that leaves it out is handed every event.
   */
  canHandle?: readonly string[];
  /** Folds one event into `state` (in place or not); returns the new state. */
  evolve: (state: TState, event: TEvent) => TState;
}

/** One handler per event type a projection folds, each given the event narrowed to that type. */
export type ProjectionHandlers<TState, TEvent extends StoredEventLike> = {
  readonly [K in TEvent['type']]?: (state: TState, event: Extract<TEvent, { type: K }>) => TState;
};

/** A projection written as handlers keyed by event type, over a context's union of events. */
export interface ProjectionDefinition<TState, TEvent extends StoredEventLike> {
  name: string;
  /** As `Projection.version`: bumped whenever a handler changes meaning or the state's shape. */
  version: number;
  initialState: () => TState;
  handlers: ProjectionHandlers<TState, TEvent>;
}

/** A projection that declares the events it folds: what `defineProjection` makes. */
export interface DeclaredProjection<TState, TType extends string = string> extends Projection<TState, StoredEventLike> {
  readonly canHandle: readonly TType[];
}

/**
 * A projection from its handlers: `canHandle` is the handlers' event types, and `evolve` calls the handler of
 * the event's type (an event of another type leaves the state as it is). A handler keyed by a type outside
 * `TEvent` does not compile.
 */
export function defineProjection<TState, TEvent extends StoredEventLike>(
  definition: ProjectionDefinition<TState, TEvent>,
): DeclaredProjection<TState, TEvent['type']> {
  // A Map rather than the handlers object: an event type is never looked up on Object.prototype.
  const handlers = new Map<string, (state: TState, event: StoredEventLike) => TState>();
  for (const [type, handler] of Object.entries(definition.handlers) as [string, ((state: TState, event: StoredEventLike) => TState) | undefined][]) {
    if (handler !== undefined) handlers.set(type, handler);
  }
  return {
    name: definition.name,
    version: definition.version,
    initialState: definition.initialState,
    canHandle: [...handlers.keys()] as TEvent['type'][],
    evolve(state, event) {
      const handler = handlers.get(event.type);
      return handler === undefined ? state : handler(state, event);
    },
  };
}

/** Whether a projection folds events of a type: one of the types it declares, or any when it declares none. */
export function eventTypeFilter(projection: Pick<Projection<unknown, never>, 'canHandle'>): (type: string) => boolean {
  if (projection.canHandle === undefined) return () => true;
  const types = new Set(projection.canHandle);
  return (type) => types.has(type);
}

/**
 * Folds events into a state; what a projection runner, a replay and a test all use. Events of a type the
 * projection does not handle are skipped without calling it.
 */
export function foldEvents<TState, TEvent extends StoredEventLike>(
  projection: Projection<TState, TEvent>,
  events: Iterable<TEvent>,
  state: TState = projection.initialState(),
): TState {
  const handles = eventTypeFilter(projection);
  let current = state;
  for (const event of events) if (handles(event.type)) current = projection.evolve(current, event);
  return current;
}
