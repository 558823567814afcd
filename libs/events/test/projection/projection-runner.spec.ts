import { z } from 'zod';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventCatalogue, MemoryEventStore, ProjectionRunner, foldEvents, type EventEnvelope, type Projection } from '@powernode/events';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';

const catalogue = new EventCatalogue([
  { type: 'CounterIncremented', schema_version: 1, schema: z.object({ by: z.number().int() }) },
  { type: 'CounterRenamed', schema_version: 1, schema: z.object({ name: z.string() }) },
]);

interface Counters {
  totals: Record<string, number>;
  names: Record<string, string>;
  seen: number;
}

const counters: Projection<Counters> = {
  name: 'counters',
  version: 1,
  initialState: () => ({ totals: {}, names: {}, seen: 0 }),
  evolve: (state, event: EventEnvelope) => {
    switch (event.type) {
      case 'CounterIncremented':
        return {
          ...state,
          seen: state.seen + 1,
          totals: { ...state.totals, [event.stream]: (state.totals[event.stream] ?? 0) + (event.data as { by: number }).by },
        };
      case 'CounterRenamed':
        return { ...state, seen: state.seen + 1, names: { ...state.names, [event.stream]: (event.data as { name: string }).name } };
      default:
        return state;
    }
  },
};

async function seed(store: MemoryEventStore, n: number): Promise<number> {
  let position = 0;
  for (let i = 0; i < n; i++) {
    const stream = `counter-${i % 7}`;
    const r = await store.append(
      stream,
      [{ type: 'CounterIncremented', data: { by: i } }, ...(i % 5 === 0 ? [{ type: 'CounterRenamed', data: { name: `n${i}` } }] : [])],
      { expected: 'any' },
    );
    position = r.position;
  }
  return position;
}

describe('ProjectionRunner', () => {
  it('catches up, follows live appends, and a replay from position 0 gives a state equal to the live one', async () => {
    const store = new MemoryEventStore(catalogue);
    await seed(store, 200);
    const runner = new ProjectionRunner(counters, store, store.projections, { saveEveryEvents: 50 });
    await runner.start();
    const head = await seed(store, 100);
    await runner.waitFor(head);
    const live = structuredClone(runner.current);
    expect(live.seen).toBe(300 + 60);
    expect(live).toEqual(foldEvents(counters, await store.readAll()));

    const rebuilt = await runner.rebuild();
    expect(rebuilt.position).toBe(head);
    expect(runner.current).toEqual(live);
    await runner.stop();
  });

  it('resumes from its saved state and checkpoint after a restart without folding an event twice', async () => {
    const store = new MemoryEventStore(catalogue);
    await seed(store, 40);
    const first = new ProjectionRunner(counters, store, store.projections);
    await first.start();
    await first.stop();
    const saved = await store.projections.load('counters');
    expect(saved?.position).toBe(await store.headPosition());

    const head = await seed(store, 10);
    const second = new ProjectionRunner(counters, store, store.projections);
    await second.start();
    await second.waitFor(head);
    expect(second.current).toEqual(foldEvents(counters, await store.readAll()));
    await second.stop();
  });

  it('discards a saved state of another projection version and rebuilds it', async () => {
    const store = new MemoryEventStore(catalogue);
    await seed(store, 10);
    await store.projections.save('counters', { projection_version: 0, state: { totals: { bogus: 1 }, names: {}, seen: 999 } }, await store.headPosition());
    const runner = new ProjectionRunner(counters, store, store.projections);
    await runner.start();
    expect(runner.current.seen).toBe(12);
    expect(runner.current.totals['bogus']).toBeUndefined();
    await runner.stop();
  });

  it('rejects waitFor when the position is never reached', async () => {
    const store = new MemoryEventStore(catalogue);
    const runner = new ProjectionRunner(counters, store, store.projections);
    await runner.start();
    await expect(runner.waitFor(5, 100)).rejects.toMatchObject({
      code: 'read_model_behind',
      message: expect.stringMatching(/read model counters is at position 0 and did not reach 5 within 100 ms/),
      details: { projection: 'counters', position: 0, wanted: 5 },
    });
    await runner.stop();
  });

  it('keeps answering from its old state while it rebuilds, then swaps in the rebuilt one', async () => {
    const store = new MemoryEventStore(catalogue);
    const head = await seed(store, 3000);
    let rebuilding = false;
    let seenMidway: Counters | undefined;
    let runner!: ProjectionRunner<Counters>;
    const watched: Projection<Counters> = {
      ...counters,
      evolve: (state, event) => {
        if (rebuilding && event.position === 1500) seenMidway = structuredClone(runner.current);
        return counters.evolve(state, event);
      },
    };
    runner = new ProjectionRunner(watched, store, store.projections);
    await runner.start();
    const live = structuredClone(runner.current);
    rebuilding = true;
    await expect(runner.rebuild()).resolves.toEqual({ position: head });
    expect(seenMidway).toEqual(live);
    expect(runner.current).toEqual(live);
    expect(runner.checkpoint).toBe(head);
    await runner.stop();
  });

  it('hands a projection only the event types it declares, while its position moves past every event', async () => {
    const store = new MemoryEventStore(catalogue);
    await seed(store, 20);
    const seen: string[] = [];
    const renames: Projection<number> = {
      name: 'renames',
      version: 1,
      canHandle: ['CounterRenamed'],
      initialState: () => 0,
      evolve: (state, event) => {
        seen.push(event.type);
        return state + 1;
      },
    };
    const runner = new ProjectionRunner(renames, store, store.projections);
    await runner.start();
    const head = await seed(store, 5);
    await runner.waitFor(head);
    expect(runner.checkpoint).toBe(head);
    expect(runner.current).toBe(5);
    await runner.rebuild();
    expect(runner.current).toBe(5);
    expect(new Set(seen)).toEqual(new Set(['CounterRenamed']));
    await runner.stop();
  });
});

describe('ProjectionRunner over a store another process appends to', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'runner-poll-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the log at once when waited for, instead of at its next poll', async () => {
    const file = path.join(dir, 'events.db');
    // Polling once a minute: only waitFor's own read of the log can see the other instance's append in time.
    const reader = SqliteEventStore.open(file, catalogue, { pollIntervalMs: 60_000 });
    const writer = SqliteEventStore.open(file, catalogue, { pollIntervalMs: 60_000 });
    const runner = new ProjectionRunner(counters, reader, reader.projections);
    await runner.start();
    const appended = await writer.append('counter-x', [{ type: 'CounterIncremented', data: { by: 5 } }], { expected: 'no_stream' });
    await runner.waitFor(appended.position, 5000);
    expect(runner.current.totals['counter-x']).toBe(5);
    await runner.stop();
    await writer.close();
    await reader.close();
  });
});
