import { z } from 'zod';
import { EventCatalogue } from '../../src/catalogue.js';
import { foldEvents, type Projection, type StoredEventLike } from '@powernode/event-core';
import { ReadModelSet } from '../../src/projection/read-model-set.js';
import type { EventStore } from '../../src/store/event-store.js';
import { MemoryEventStore } from '../../src/store/memory-event-store.js';

const catalogue = new EventCatalogue([
  { type: 'ItemAdded', schema_version: 1, schema: z.object({ name: z.string() }) },
  { type: 'ItemRemoved', schema_version: 1, schema: z.object({ name: z.string() }) },
]);

/** Reads only type and data, like the services' read models. */
const itemNames: Projection<{ names: string[] }, StoredEventLike> = {
  name: 'item-names',
  version: 1,
  initialState: () => ({ names: [] }),
  evolve: (state, event) => {
    const { name } = event.data as { name: string };
    if (event.type === 'ItemAdded') return { names: [...state.names, name] };
    if (event.type === 'ItemRemoved') return { names: state.names.filter((n) => n !== name) };
    return state;
  },
};

const eventCount: Projection<{ count: number }> = {
  name: 'event-count',
  version: 1,
  initialState: () => ({ count: 0 }),
  evolve: (state) => ({ count: state.count + 1 }),
};

class ShopReadModels extends ReadModelSet {
  readonly items = this.register(itemNames);
  readonly counts = this.register(eventCount);

  constructor(store: EventStore) {
    super(store);
  }
}

describe('ReadModelSet', () => {
  it('starts every registered read model, in registration order, and finds each by name', async () => {
    const store = new MemoryEventStore(catalogue);
    await store.append('shop', [{ type: 'ItemAdded', data: { name: 'a' } }], { expected: 'no_stream' });
    const models = new ShopReadModels(store);
    expect(models.all().map((r) => r.name)).toEqual(['item-names', 'event-count']);
    expect(models.byName('event-count')).toBe(models.counts);
    expect(models.byName('no-such-projection')).toBeUndefined();

    await models.start();
    expect(models.items.current).toEqual({ names: ['a'] });
    expect(models.counts.current).toEqual({ count: 1 });
    await models.stop();
  });

  it('caughtUpTo waits until every read model has folded the log up to a position (read-your-writes)', async () => {
    const store = new MemoryEventStore(catalogue);
    const models = new ShopReadModels(store);
    await models.start();
    const { position } = await store.append(
      'shop',
      [
        { type: 'ItemAdded', data: { name: 'a' } },
        { type: 'ItemAdded', data: { name: 'b' } },
      ],
      { expected: 'no_stream' },
    );
    await models.caughtUpTo(position);
    expect(models.items.checkpoint).toBeGreaterThanOrEqual(position);
    expect(models.counts.checkpoint).toBeGreaterThanOrEqual(position);
    expect(models.items.current).toEqual(foldEvents(itemNames, await store.readAll()));
    expect(models.counts.current).toEqual({ count: 2 });
    // Position 0 means "nothing was appended": it resolves at once even before anything is folded.
    await expect(models.caughtUpTo(0)).resolves.toBeUndefined();
    await models.stop();
  });

  it('caughtUpWithStore waits for what the store holds now, including appends made through another handle', async () => {
    const store = new MemoryEventStore(catalogue);
    const models = new ShopReadModels(store);
    await models.start();
    await store.append('shop', [{ type: 'ItemAdded', data: { name: 'a' } }], { expected: 'no_stream' });
    await store.append('shop', [{ type: 'ItemRemoved', data: { name: 'a' } }], { expected: 1 });
    await models.caughtUpWithStore();
    expect(models.items.current).toEqual({ names: [] });
    expect(models.counts.current).toEqual({ count: 2 });
    await models.stop();
  });

  it('stop saves every read model with its position, so a new set resumes where the old one stopped', async () => {
    const store = new MemoryEventStore(catalogue);
    await store.append('shop', [{ type: 'ItemAdded', data: { name: 'a' } }], { expected: 'no_stream' });
    const first = new ShopReadModels(store);
    await first.start();
    await first.stop();
    const head = await store.headPosition();
    expect((await store.projections.load('item-names'))?.position).toBe(head);
    expect((await store.projections.load('event-count'))?.position).toBe(head);

    await store.append('shop', [{ type: 'ItemAdded', data: { name: 'b' } }], { expected: 1 });
    const second = new ShopReadModels(store);
    await second.start();
    await second.caughtUpWithStore();
    expect(second.items.current).toEqual({ names: ['a', 'b'] });
    expect(second.counts.current).toEqual({ count: 2 });
    await second.stop();
  });
});
