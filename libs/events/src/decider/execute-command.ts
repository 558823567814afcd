import { isPowernodeError } from '@powernode/contracts';
import { KeyedLock, type EventEnvelope, type NewEvent } from '@powernode/event-core';
import type { AppendResult, EventStore } from '../store/event-store.js';
import type { Decider } from '@powernode/event-core';

/** Provenance every appended event carries. */
export interface CommandMetadata {
  actor: string;
  correlation_id: string;
  causation_id?: string | null;
  /** Derives each new event's id (index within the batch) so a redelivered command appends nothing twice. */
  event_id?: (index: number) => string;
}

export interface CommandOutcome<State, Event> {
  /** State after the new events. */
  state: State;
  events: Event[];
  /** Empty when the decider decided nothing (an idempotent no-op). */
  appended: EventEnvelope[];
  /** Stream version after the command. */
  version: number;
  /** Global position of the last appended event, or 0 for a no-op. */
  position: number;
}

const streamLocks = new WeakMap<EventStore, KeyedLock>();

/**
 * Runs `work` after every earlier call for the same store and stream has settled. Commands on one hot stream
 * (e.g. the module registry) from one process then never race each other; only other processes can conflict.
 */
function serialisedPerStream<T>(store: EventStore, stream: string, work: () => Promise<T>): Promise<T> {
  let lock = streamLocks.get(store);
  if (!lock) streamLocks.set(store, (lock = new KeyedLock()));
  return lock.run(stream, work);
}

/**
 * Loads a stream, folds it with the decider, decides, and appends with the version it read. Commands on the
 * same stream are serialised within this process; a writer in another process makes the append fail with
 * `concurrency_conflict`, and the whole cycle is then retried on fresh state after a short jittered pause (the
 * command is re-decided, never blindly re-appended), up to `maxAttempts`.
 */
export function executeCommand<Command, State, Event extends { type: string; data: unknown }>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  command: Command | ((state: State) => Command),
  metadata: CommandMetadata,
  maxAttempts = 8,
): Promise<CommandOutcome<State, Event>> {
  return serialisedPerStream(store, stream, () => decideAndAppend(store, stream, decider, command, metadata, maxAttempts));
}

async function decideAndAppend<Command, State, Event extends { type: string; data: unknown }>(
  store: EventStore,
  stream: string,
  decider: Decider<Command, State, Event>,
  command: Command | ((state: State) => Command),
  metadata: CommandMetadata,
  maxAttempts: number,
): Promise<CommandOutcome<State, Event>> {
  for (let attempt = 1; ; attempt++) {
    const history = await store.readStream(stream);
    let state = decider.initialState();
    for (const e of history) state = decider.evolve(state, { type: e.type, data: e.data } as Event);
    const cmd = typeof command === 'function' ? (command as (s: State) => Command)(state) : command;
    const events = decider.decide(cmd, state);
    if (events.length === 0) return { state, events, appended: [], version: history.length, position: 0 };
    const toAppend: NewEvent[] = events.map((e, i) => ({
      ...(metadata.event_id ? { id: metadata.event_id(i) } : {}),
      type: e.type,
      data: e.data,
      actor: metadata.actor,
      correlation_id: metadata.correlation_id,
      causation_id: metadata.causation_id ?? null,
    }));
    let result: AppendResult;
    try {
      result = await store.append(stream, toAppend, { expected: history.length === 0 ? 'no_stream' : history.length });
    } catch (error) {
      if (isPowernodeError(error) && error.code === 'concurrency_conflict' && attempt < maxAttempts) {
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        continue;
      }
      throw error;
    }
    for (const e of events) state = decider.evolve(state, e);
    return { state, events, appended: result.events, version: result.next_expected_version, position: result.position };
  }
}
