/**
 * An aggregate as plain functions: `decide` turns a command into events (or throws a PowernodeError whose code
 * names the broken rule), `evolve` folds an event into state. No clock, no ids, no I/O: those arrive inside the
 * command. Each bounded context defines its deciders with its own command, state and event unions.
 */
export interface Decider<Command, State, Event> {
  initialState: () => State;
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
}

/** The state of an aggregate after `events` (what a command handler does after reading the stream). */
export function stateFromEvents<Command, State, Event>(decider: Decider<Command, State, Event>, events: Iterable<Event>): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}

/** Exhaustiveness guard for `switch` over tagged unions. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
