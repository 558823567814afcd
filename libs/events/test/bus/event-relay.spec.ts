import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureEventStream } from '../../src/bus/event-stream.js';
import { decodeEvent } from '../../src/bus/event-message.js';
import { EventRelay } from '../../src/bus/event-relay.js';
import type { EventStore } from '../../src/store/event-store.js';
import { MemoryEventStore } from '../../src/store/memory-event-store.js';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import { busTestCatalogue, openBusFixture, recordingLogger, storedMessages, waitUntil, type BusFixture } from './bus-fixture.js';

const adapters: [string, (dir: string) => EventStore][] = [
  ['memory', () => new MemoryEventStore(busTestCatalogue())],
  ['sqlite', (dir) => SqliteEventStore.open(path.join(dir, 'events.db'), busTestCatalogue())],
];

async function appendThings(store: EventStore, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await store.append(`thing-${i % 3}`, [{ type: 'ThingHappened', data: { n: i }, correlation_id: `corr-${i}`, causation_id: i % 2 ? `cause-${i}` : null }], {
      expected: 'any',
    });
  }
}

describe.each(adapters)('EventRelay over the %s store', (_adapter, openStore) => {
  let bus: BusFixture;
  let dir: string;
  let store: EventStore;
  const relays: EventRelay[] = [];

  function relay(options: Partial<ConstructorParameters<typeof EventRelay>[0]> = {}): EventRelay {
    const r = new EventRelay({
      store,
      js: bus.js,
      subject_prefix: bus.subject_prefix,
      expected_stream: bus.event_stream,
      batch_size: 7,
      logger: recordingLogger(),
      ...options,
    });
    relays.push(r);
    return r;
  }

  beforeEach(async () => {
    bus = await openBusFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'pn-relay-'));
    store = openStore(dir);
  });

  afterEach(async () => {
    for (const r of relays.splice(0)) await r.stop();
    await store.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every event once, in log order, with the event id as dedupe id and the ids in headers', async () => {
    await appendThings(store, 25);
    const r = relay();
    await r.start();
    await waitUntil('the relay checkpointed the head', () => r.stats().checkpoint === 25);

    const messages = await storedMessages(bus.jsm, bus.event_stream);
    const events = messages.map((m) => decodeEvent(m.data));
    expect(events.map((e) => e.position)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(events).toEqual(await store.readAll());
    for (const [i, m] of messages.entries()) {
      expect(m.subject).toBe(`${bus.subject_prefix}.thing.ThingHappened`);
      expect(m.header.get('Nats-Msg-Id')).toBe(events[i]!.id);
      expect(m.header.get('Powernode-Correlation-Id')).toBe(`corr-${i}`);
      expect(m.header.get('Powernode-Causation-Id')).toBe(i % 2 ? `cause-${i}` : '');
    }
    expect(await store.checkpoints.get('relay')).toBe(25);
    expect(await r.lag()).toBe(0);
    expect(r.stats()).toMatchObject({ published: 25, duplicates: 0, last_error: null });
  });

  it('follows live appends and resumes from its checkpoint after a restart', async () => {
    const first = relay();
    await first.start();
    await appendThings(store, 10);
    await waitUntil('the first relay published 10 events', () => first.stats().checkpoint === 10);
    await first.stop();

    await appendThings(store, 5, 10);
    expect(await first.lag()).toBe(5);
    const second = relay();
    await second.start();
    await waitUntil('the second relay caught up', () => second.stats().checkpoint === 15);
    expect(second.stats()).toMatchObject({ published: 5, duplicates: 0 });
    const positions = (await storedMessages(bus.jsm, bus.event_stream)).map((m) => decodeEvent(m.data).position);
    expect(positions).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('republishes after a lost checkpoint and JetStream drops every copy', async () => {
    await appendThings(store, 12);
    const first = relay();
    await first.start();
    await waitUntil('the first relay checkpointed', () => first.stats().checkpoint === 12);
    await first.stop();
    // What a crash after publishing and before saving the checkpoint leaves behind.
    await store.checkpoints.set('relay', 0);

    const second = relay();
    await second.start();
    await waitUntil('the second relay checkpointed', () => second.stats().checkpoint === 12);
    expect(second.stats()).toMatchObject({ published: 0, duplicates: 12 });
    expect((await bus.jsm.streams.info(bus.event_stream)).state.messages).toBe(12);
  });

  it('keeps retrying from its checkpoint while JetStream refuses, then delivers everything', async () => {
    const latePrefix = `pntest.${bus.id}.late`;
    const lateStream = `PN_TEST_LATE_${bus.id}`;
    await appendThings(store, 9);
    const logger = recordingLogger();
    const r = relay({ subject_prefix: latePrefix, expected_stream: lateStream, logger });
    await r.start();
    await waitUntil('the relay reported a failed publish', () => r.stats().last_error !== null);
    expect(r.stats().checkpoint).toBe(0);
    expect(await r.lag()).toBe(9);
    expect(r.stats().published_position).toBe(0);
    expect(logger.lines.some((l) => l.level === 'error' && String((l.obj as { err?: Error }).err?.message).includes('cannot publish event'))).toBe(true);

    try {
      await ensureEventStream(bus.jsm, { name: lateStream, subjects: [`${latePrefix}.>`] });
      await waitUntil('the relay caught up once the stream exists', () => r.stats().checkpoint === 9);
      expect(r.stats().last_error).toBeNull();
      const positions = (await storedMessages(bus.jsm, lateStream)).map((m) => decodeEvent(m.data).position);
      expect(positions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await r.stop();
      await bus.jsm.streams.delete(lateStream).catch(() => false);
    }
  });

  it('caughtUp() resolves once everything in the log is published and checkpointed', async () => {
    await appendThings(store, 40);
    const r = relay({ checkpoint_interval_ms: 50 });
    await r.start();
    await r.caughtUp();
    expect(r.stats()).toMatchObject({ checkpoint: 40, published_position: 40, published: 40 });
    expect(await store.checkpoints.get('relay')).toBe(40);
    expect((await bus.jsm.streams.info(bus.event_stream)).state.messages).toBe(40);
  });

  it('saves the checkpoint on stop even inside the checkpoint interval', async () => {
    const r = relay({ checkpoint_interval_ms: 60_000 });
    await r.start();
    await appendThings(store, 3);
    await r.caughtUp();
    expect(await store.checkpoints.get('relay')).toBe(3);
    await appendThings(store, 2, 3);
    await waitUntil('the last two are published', () => r.stats().published_position === 5);
    expect(await store.checkpoints.get('relay')).toBe(3);
    await r.stop();
    expect(await store.checkpoints.get('relay')).toBe(5);
  });

  it('refuses to start twice and caughtUp() before start', async () => {
    await expect(relay().caughtUp()).rejects.toMatchObject({ code: 'conflict' });
    const r = relay();
    await r.start();
    await expect(r.start()).rejects.toMatchObject({ code: 'conflict' });
  });
});
