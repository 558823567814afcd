import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { DurableConsumer, type DeliveryContext, type DurableConsumerOptions } from '../../src/bus/durable-consumer.js';
import { encodeEvent, eventHeaders } from '../../src/bus/event-message.js';
import { eventSubject } from '../../src/bus/event-subjects.js';
import { MemoryProcessedLedger } from '../../src/bus/processed-ledger.js';
import { SqliteProcessedLedger } from '../../src/bus/sqlite-processed-ledger.js';
import type { EventEnvelope } from '@powernode/event-core';
import { MemoryEventStore } from '../../src/store/memory-event-store.js';
import { busTestCatalogue, openBusFixture, recordingLogger, storedMessages, waitUntil, type BusFixture } from './bus-fixture.js';

describe('DurableConsumer', () => {
  let bus: BusFixture;
  let store: MemoryEventStore;
  const consumers: DurableConsumer[] = [];
  let durableSeq = 0;
  let streamSeq = 0;

  beforeEach(async () => {
    bus = await openBusFixture();
    store = new MemoryEventStore(busTestCatalogue());
  });

  afterEach(async () => {
    for (const c of consumers.splice(0)) await c.stop();
    await bus.close();
  });

  /** Appends `count` events and publishes them the way the relay does. */
  async function publishThings(count: number): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    for (let i = 0; i < count; i++) {
      const { events } = await store.append(`thing-${++streamSeq}`, [{ type: 'ThingHappened', data: { n: i }, correlation_id: `corr-${i}` }], {
        expected: 'no_stream',
      });
      out.push(...events);
    }
    for (const e of out) await bus.js.publish(eventSubject(e, bus.subject_prefix), encodeEvent(e), { msgID: e.id, headers: eventHeaders(e) });
    return out;
  }

  function consumer(options: Partial<DurableConsumerOptions> & Pick<DurableConsumerOptions, 'handler'>): DurableConsumer & { durable: string } {
    const durable = options.durable ?? `c${++durableSeq}_${bus.id}`;
    const c = new DurableConsumer({
      js: bus.js,
      jsm: bus.jsm,
      stream: bus.event_stream,
      durable,
      filter_subjects: [`${bus.subject_prefix}.thing.*`],
      ledger: new MemoryProcessedLedger(),
      dead_letter_subject: `${bus.dead_letter_prefix}.${durable}`,
      backoff: { initial_ms: 100, max_ms: 1000, factor: 2 },
      logger: recordingLogger(),
      ...options,
    });
    consumers.push(c);
    return Object.assign(c, { durable });
  }

  async function consumerInfo(durable: string) {
    return bus.jsm.consumers.info(bus.event_stream, durable);
  }

  it('hands every event to the handler and acks it only once the handler resolved', async () => {
    const events = await publishThings(3);
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const c = consumer({
      handler: async (event) => {
        if (event.id === events[0]!.id) await gate;
        seen.push(event.id);
      },
    });
    await c.start();
    await waitUntil('the first delivery is in the handler', async () => (await consumerInfo(c.durable)).num_ack_pending >= 1);
    expect(seen).toEqual([]);
    expect((await consumerInfo(c.durable)).ack_floor.stream_seq).toBe(0);

    release();
    await waitUntil('all three are handled', () => c.stats().handled === 3);
    expect(seen).toEqual(events.map((e) => e.id));
    await waitUntil('the acks reached the server', async () => (await consumerInfo(c.durable)).ack_floor.stream_seq === 3);
    expect(await c.pending()).toBe(0);
  });

  it('creates the durable consumer idempotently: a restart resumes after the last ack', async () => {
    await publishThings(2);
    const seen: number[] = [];
    const handler = async (event: EventEnvelope) => void seen.push((event.data as { n: number }).n);
    const first = consumer({ handler });
    await first.start();
    await waitUntil('two handled', () => first.stats().handled === 2);
    await first.stop();

    await publishThings(1);
    const second = consumer({ durable: first.durable, handler });
    await second.start();
    await waitUntil('the new event handled', () => second.stats().handled === 1);
    expect(seen).toEqual([0, 1, 0]);
    const info = await consumerInfo(first.durable);
    expect(info.config).toMatchObject({ durable_name: first.durable, ack_policy: 'explicit', max_deliver: -1 });
  });

  it('naks a retryable failure with exponential backoff and acks the attempt that succeeds', async () => {
    const [event] = await publishThings(1);
    const attempts: { attempt: number; at: number }[] = [];
    const c = consumer({
      handler: async (_e, ctx: DeliveryContext) => {
        attempts.push({ attempt: ctx.attempt, at: performance.now() });
        if (ctx.attempt < 3) throw new PowernodeError('store_unavailable', 'database is restarting');
      },
    });
    await c.start();
    await waitUntil('handled on the third attempt', () => c.stats().handled === 1);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Redelivery comes no sooner than the backoff: 100 ms after the first failure, 200 ms after the second.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(90);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(190);
    expect(c.stats()).toMatchObject({ handled: 1, retried: 2, dead_lettered: 0 });
    expect(event).toBeDefined();
  });

  it('dead-letters a message still failing after max_deliver attempts, with reason, code and origin headers', async () => {
    const [event] = await publishThings(1);
    const attempts: number[] = [];
    const c = consumer({
      max_deliver: 3,
      handler: async (_e, ctx) => {
        attempts.push(ctx.attempt);
        throw new TypeError('cannot read properties of undefined');
      },
    });
    await c.start();
    await waitUntil('the message is dead-lettered', () => c.stats().dead_lettered === 1);
    expect(attempts).toEqual([1, 2, 3]);

    const [dead] = await storedMessages(bus.jsm, bus.dead_letter_stream);
    expect(dead!.subject).toBe(`${bus.dead_letter_prefix}.${c.durable}`);
    expect(dead!.header.get('Powernode-Dead-Letter-Reason')).toBe('max_deliver');
    expect(dead!.header.get('Powernode-Dead-Letter-Code')).toBe('internal');
    expect(dead!.header.get('Powernode-Dead-Letter-Message')).toBe('cannot read properties of undefined');
    expect(dead!.header.get('Powernode-Original-Subject')).toBe(`${bus.subject_prefix}.thing.ThingHappened`);
    expect(dead!.header.get('Powernode-Delivery-Count')).toBe('3');
    expect(dead!.header.get('Powernode-Correlation-Id')).toBe(event!.correlation_id);
    expect(JSON.parse(new TextDecoder().decode(dead!.data))).toEqual(event);
    // Termed: nothing left to deliver or to ack.
    await waitUntil('the term reached the server', async () => (await consumerInfo(c.durable)).num_ack_pending === 0);
    expect(await c.pending()).toBe(0);
    expect(attempts).toHaveLength(3);
  });

  it('dead-letters a terminal PowernodeError at once', async () => {
    await publishThings(2);
    const calls: number[] = [];
    const c = consumer({
      handler: async (event) => {
        const n = (event.data as { n: number }).n;
        calls.push(n);
        if (n === 0) throw new PowernodeError('invalid_transition', 'cannot promote built to live');
      },
    });
    await c.start();
    await waitUntil('one dead-lettered, one handled', () => c.stats().dead_lettered === 1 && c.stats().handled === 1);
    expect(calls).toEqual([0, 1]);
    const [dead] = await storedMessages(bus.jsm, bus.dead_letter_stream);
    expect(dead!.header.get('Powernode-Dead-Letter-Reason')).toBe('terminal_error');
    expect(dead!.header.get('Powernode-Dead-Letter-Code')).toBe('invalid_transition');
    expect(dead!.header.get('Powernode-Delivery-Count')).toBe('1');
  });

  it('dead-letters a message that is not an event envelope without calling the handler', async () => {
    await bus.js.publish(`${bus.subject_prefix}.thing.ThingHappened`, new TextEncoder().encode('not json'));
    const calls: string[] = [];
    const c = consumer({ handler: async (e) => void calls.push(e.id) });
    await c.start();
    await waitUntil('dead-lettered', () => c.stats().dead_lettered === 1);
    expect(calls).toEqual([]);
    const [dead] = await storedMessages(bus.jsm, bus.dead_letter_stream);
    expect(dead!.header.get('Powernode-Dead-Letter-Reason')).toBe('undecodable');
    expect(dead!.header.get('Powernode-Dead-Letter-Code')).toBe('invalid_event');
  });

  it('keeps a message it cannot park (no stream on the dead-letter subject) instead of terming it', async () => {
    await publishThings(1);
    let calls = 0;
    const logger = recordingLogger();
    const c = consumer({
      dead_letter_subject: `pntest.${bus.id}.nowhere`,
      backoff: { initial_ms: 50, max_ms: 100, factor: 2 },
      logger,
      handler: async () => {
        calls += 1;
        throw new PowernodeError('invalid_transition', 'refused');
      },
    });
    await c.start();
    await waitUntil('the message came back after the failed park', () => calls >= 2);
    expect(c.stats().dead_lettered).toBe(0);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg?.includes('cannot publish to the dead-letter subject'))).toBe(true);
  });

  it('acks without handling an event id the ledger already holds', async () => {
    const events = await publishThings(3);
    const ledger = new MemoryProcessedLedger();
    const c0 = `c${++durableSeq}_${bus.id}`;
    await ledger.add(c0, events[1]!.id);
    // A copy of event 0 published past the duplicate window (another msg id): the ledger still recognises it.
    await bus.js.publish(eventSubject(events[0]!, bus.subject_prefix), encodeEvent(events[0]!), { msgID: `late-copy-${events[0]!.id}` });
    const seen: string[] = [];
    const c = consumer({ durable: c0, ledger, handler: async (e) => void seen.push(e.id) });
    await c.start();
    await waitUntil('four deliveries settled', () => c.stats().handled + c.stats().skipped === 4);
    expect(seen).toEqual([events[0]!.id, events[2]!.id]);
    expect(c.stats()).toMatchObject({ handled: 2, skipped: 2 });
    expect(await ledger.has(c0, events[2]!.id)).toBe(true);
  });

  it('stops gracefully: drains what it pulled (handled and acked) and pulls nothing more', async () => {
    const events = await publishThings(5);
    const handledBy: Record<string, string[]> = { first: [], second: [] };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ledger = new MemoryProcessedLedger();
    const first = consumer({
      ledger,
      handler: async (e) => {
        await gate;
        handledBy.first!.push(e.id);
      },
    });
    await first.start();
    await waitUntil('all five pulled', async () => (await consumerInfo(first.durable)).num_ack_pending === 5);
    let stopped = false;
    const stopping = first.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(handledBy.first).toEqual(events.map((e) => e.id));
    await waitUntil('the acks reached the server', async () => (await consumerInfo(first.durable)).num_ack_pending === 0);

    const later = await publishThings(2);
    const second = consumer({ durable: first.durable, ledger, handler: async (e) => void handledBy.second!.push(e.id) });
    await second.start();
    await waitUntil('the later events handled by the second instance', () => second.stats().handled === 2);
    expect(handledBy.second).toEqual(later.map((e) => e.id));
    expect(handledBy.first).toHaveLength(5);
  });

  it('refuses a consumer without filter subjects or with a non-positive max_deliver', () => {
    const handler = async () => undefined;
    expect(() => consumer({ handler, filter_subjects: [] })).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    expect(() => consumer({ handler, max_deliver: 0 })).toThrow(/max_deliver/);
  });

  it('fails to start with bus_unavailable when the stream does not exist', async () => {
    const c = consumer({ handler: async () => undefined, stream: `PN_TEST_MISSING_${bus.id}` });
    await expect(c.start()).rejects.toMatchObject({ code: 'bus_unavailable', message: expect.stringContaining('ensureEventStream') });
    consumers.pop();
  });
});

describe('SqliteProcessedLedger', () => {
  it('remembers processed ids per consumer across reopening the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pn-ledger-'));
    try {
      const file = path.join(dir, 'ledger.db');
      const a = SqliteProcessedLedger.open(file);
      await a.add('projector', 'e1');
      await a.add('projector', 'e1');
      a.close();
      const b = SqliteProcessedLedger.open(file);
      expect(await b.has('projector', 'e1')).toBe(true);
      expect(await b.has('projector', 'e2')).toBe(false);
      expect(await b.has('other', 'e1')).toBe(false);
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports an unopenable file as store_unavailable', () => {
    expect(() => SqliteProcessedLedger.open(path.join(tmpdir(), `missing-${process.pid}`, 'nested', 'ledger.db'))).toThrow(
      expect.objectContaining({ code: 'store_unavailable' }),
    );
  });
});
