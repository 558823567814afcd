import type { EventEnvelope } from '../envelope.js';

/**
 * A read model as a pure fold over the global log. `version` is bumped when `evolve` changes meaning, which
 * makes a saved state of an older version be discarded and rebuilt from position 0.
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
