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
  /** Folds one event into `state` (in place or not); returns the new state. */
  evolve: (state: TState, event: TEvent) => TState;
}

/** Folds events into a state; what a projection runner, a replay and a test all use. */
export function foldEvents<TState, TEvent extends StoredEventLike>(projection: Projection<TState, TEvent>, events: Iterable<TEvent>, state: TState = projection.initialState()): TState {
  let current = state;
  for (const event of events) current = projection.evolve(current, event);
  return current;
}
