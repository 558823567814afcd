import { defineProjection, foldEvents, type Projection, type StoredEventLike } from '../src/projection.js';

type CounterEvent = { type: 'Added'; data: { by: number } } | { type: 'Reset'; data: { to: number } } | { type: 'Noted'; data: { text: string } };

interface Counter {
  total: number;
  handled: number;
}

const counter = defineProjection<Counter, CounterEvent>({
  name: 'counter',
  version: 3,
  initialState: () => ({ total: 0, handled: 0 }),
  handlers: {
    Added(state, event) {
      state.total += event.data.by;
      state.handled += 1;
      return state;
    },
    Reset: (state, event) => ({ total: event.data.to, handled: state.handled + 1 }),
  },
});

const log: StoredEventLike[] = [
  { type: 'Added', data: { by: 2 } },
  { type: 'Noted', data: { text: 'ignored' } },
  { type: 'OtherContextEvent', data: {} },
  { type: 'Reset', data: { to: 10 } },
  { type: 'Added', data: { by: 5 } },
];

describe('defineProjection', () => {
  it('declares the event types it has handlers for, and keeps name and version', () => {
    expect(counter.canHandle).toEqual(['Added', 'Reset']);
    expect(counter).toMatchObject({ name: 'counter', version: 3 });
  });

  it('folds each handled event with the handler of its type', () => {
    expect(foldEvents(counter, log)).toEqual({ total: 15, handled: 3 });
  });

  it('leaves the state as it is for an event it has no handler for, even when called directly', () => {
    const state = counter.initialState();
    expect(counter.evolve(state, { type: 'Noted', data: { text: 'x' } })).toBe(state);
    expect(counter.evolve(state, { type: 'toString', data: {} })).toBe(state);
    expect(counter.evolve(state, { type: 'constructor', data: {} })).toBe(state);
  });

  it('refuses at compile time a handler for a type outside the event union', () => {
    defineProjection<Counter, CounterEvent>({
      name: 'typo',
      version: 1,
      initialState: () => ({ total: 0, handled: 0 }),
      handlers: {
        // @ts-expect-error: 'Removed' is not a CounterEvent type
        Removed: (state: Counter) => state,
      },
    });
    defineProjection<Counter, CounterEvent>({
      name: 'narrowed',
      version: 1,
      initialState: () => ({ total: 0, handled: 0 }),
      handlers: {
        // @ts-expect-error: an Added event has no `to`
        Added: (state, event) => ({ ...state, total: event.data.to }),
      },
    });
  });
});

describe('foldEvents', () => {
  it('does not call a projection for events of types it does not declare', () => {
    const seen: string[] = [];
    const recording: Projection<number, StoredEventLike> = {
      name: 'recording',
      version: 1,
      canHandle: ['Added'],
      initialState: () => 0,
      evolve: (state, event) => {
        seen.push(event.type);
        return state + 1;
      },
    };
    expect(foldEvents(recording, log)).toBe(2);
    expect(seen).toEqual(['Added', 'Added']);
  });

  it('hands every event to a projection that declares no types', () => {
    const all: Projection<number, StoredEventLike> = { name: 'all', version: 1, initialState: () => 0, evolve: (state) => state + 1 };
    expect(foldEvents(all, log)).toBe(log.length);
  });
});
