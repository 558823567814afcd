import type { EventEnvelope } from '../envelope.js';

/**
 * A read model as a pure fold over the global log. `version` is bumped when `evolve` changes meaning (or the
 * state's shape), which makes a saved state of an older version be discarded and rebuilt from position 0.
 *
 * `evolve(state, event)` may update `state` in place and return it: the state belongs to the fold that owns it
 * (a runner, a replay, `foldEvents`), so a replay stays linear in the log instead of copying every map per
 * event. It must still be deterministic (the same events folded into fresh initial states give deep-equal,
 * JSON-serialisable states). Whoever must keep a state while folding on folds into a copy of it; what a
 * projection's queries hand out must not change when later events are folded (new arrays, rows replaced
 * rather than changed).
 */
export interface Projection<TState> {
  name: string;
  version: number;
  initialState: () => TState;
  evolve: (state: TState, event: EventEnvelope) => TState;
}

/** Folds events into a state; what a projection runner, a replay and a test all use. */
export function foldEvents<TState>(projection: Projection<TState>, events: Iterable<EventEnvelope>, state: TState = projection.initialState()): TState {
  let current = state;
  for (const event of events) current = projection.evolve(current, event);
  return current;
}
