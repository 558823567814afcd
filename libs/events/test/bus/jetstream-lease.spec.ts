import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeEvent } from '../../src/bus/event-message.js';
import { EventRelay } from '../../src/bus/event-relay.js';
import { ensureLeaseStream, JetStreamLease, leaseHolder } from '../../src/bus/jetstream-lease.js';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import { busTestCatalogue, NATS_URL, openBusFixture, recordingLogger, storedMessages, uniqueId, waitUntil, type BusFixture } from './bus-fixture.js';

const TTL = 1200;

/** One contender on a connection of its own, so a test can cut it off as a killed process would be. */
interface Contender {
  name: string;
  nc: NatsConnection;
  lease: JetStreamLease;
  acquiredAt: number[];
  lostAt: number[];
}

describe('JetStreamLease', () => {
  let jsm: JetStreamManager;
  let observer: NatsConnection;
  let stream: string;
  const contenders: Contender[] = [];

  async function contender(name: string, hooks: { onAcquired?: () => Promise<void>; onLost?: () => Promise<void> } = {}): Promise<Contender> {
    const nc = await connect({ servers: NATS_URL, reconnect: false });
    const c: Contender = { name, nc, acquiredAt: [], lostAt: [], lease: undefined as unknown as JetStreamLease };
    c.lease = new JetStreamLease({
      js: jetstream(nc),
      jsm: await jetstreamManager(nc),
      stream,
      subject: `${stream}.relay`,
      holder: name,
      ttl_ms: TTL,
      logger: recordingLogger(),
      onAcquired: async () => {
        c.acquiredAt.push(Date.now());
        await hooks.onAcquired?.();
      },
      onLost: async () => {
        c.lostAt.push(Date.now());
        await hooks.onLost?.();
      },
    });
    contenders.push(c);
    return c;
  }

  beforeEach(async () => {
    observer = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(observer);
    stream = `LEASES_${uniqueId()}`;
    await ensureLeaseStream(jsm, { name: stream, subjects: [`${stream}.>`], ttl_ms: TTL });
  });

  afterEach(async () => {
    for (const c of contenders.splice(0)) {
      await c.lease.stop().catch(() => undefined);
      await c.nc.close().catch(() => undefined);
    }
    await jsm.streams.delete(stream).catch(() => undefined);
    await observer.close();
  });

  it('has one holder among contenders, and moves at once to another when the holder stops', async () => {
    const a = await contender('a');
    const b = await contender('b');
    await a.lease.start();
    await b.lease.start();
    expect([a.lease.status().holding, b.lease.status().holding]).toEqual([true, false]);
    expect(await leaseHolder(jsm, stream, `${stream}.relay`)).toBe('a');

    const stoppedAt = Date.now();
    await a.lease.stop();
    expect(a.lostAt).toHaveLength(1);
    await waitUntil('b holds the released lease', () => b.lease.status().holding, 5000);
    // Released, not expired: the next contender takes it within its polling interval, well inside the TTL.
    expect(b.acquiredAt[0]! - stoppedAt).toBeLessThan(TTL);
    expect(await leaseHolder(jsm, stream, `${stream}.relay`)).toBe('b');
  });

  it('moves to another contender within the TTL when the holder dies without releasing', async () => {
    const a = await contender('a');
    const b = await contender('b');
    await a.lease.start();
    await b.lease.start();
    expect(a.lease.status().holding).toBe(true);

    // A killed process: its connection goes, nothing is released.
    const killedAt = Date.now();
    await a.nc.close();
    await waitUntil('b holds the expired lease', () => b.lease.status().holding, 10_000);
    const handover = b.acquiredAt[0]! - killedAt;
    expect(handover).toBeGreaterThan(TTL / 3);
    expect(handover).toBeLessThan(2 * TTL);
  });

  it('stops acting as holder before its lease can expire when it cannot renew, so two never act at once', async () => {
    const a = await contender('a');
    await a.lease.start();
    const cutAt = Date.now();
    await a.nc.close();
    const b = await contender('b');
    await b.lease.start();
    await waitUntil('b holds the lease', () => b.lease.status().holding, 10_000);
    expect(a.lostAt).toHaveLength(1);
    expect(a.lostAt[0]! - cutAt).toBeLessThan(TTL);
    expect(a.lostAt[0]!).toBeLessThan(b.acquiredAt[0]!);
  });

  it('gives up a lease it cannot act on, so another contender takes it', async () => {
    const a = await contender('a', {
      onAcquired: async () => {
        throw new Error('the relay cannot start');
      },
    });
    const b = await contender('b');
    await a.lease.start();
    expect(a.lease.status().holding).toBe(false);
    await b.lease.start();
    await waitUntil('b holds the lease', () => b.lease.status().holding, 5000);
  });
});

describe('relays behind a lease', () => {
  let bus: BusFixture;
  let dir: string;

  beforeEach(async () => {
    bus = await openBusFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'pn-relay-lease-'));
  });

  afterEach(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every event exactly once while the holding replica is killed and another takes over', async () => {
    const file = path.join(dir, 'events.db');
    const writer = SqliteEventStore.open(file, busTestCatalogue());
    const leases = `LEASES_${uniqueId()}`;
    await ensureLeaseStream(bus.jsm, { name: leases, subjects: [`${leases}.>`], ttl_ms: TTL });
    const replicas = await Promise.all(
      ['one', 'two'].map(async (name) => {
        const nc = await connect({ servers: NATS_URL, reconnect: false });
        const js = jetstream(nc);
        const store = SqliteEventStore.open(file, busTestCatalogue());
        const relay = new EventRelay({
          store,
          js,
          subject_prefix: bus.subject_prefix,
          expected_stream: bus.event_stream,
          batch_size: 7,
          logger: recordingLogger(),
        });
        const lease = new JetStreamLease({
          js,
          jsm: await jetstreamManager(nc),
          stream: leases,
          subject: `${leases}.relay`,
          holder: name,
          ttl_ms: TTL,
          logger: recordingLogger(),
          onAcquired: () => relay.start(),
          onLost: () => relay.stop(),
        });
        await lease.start();
        return { name, nc, store, relay, lease };
      }),
    );
    try {
      const [first, second] = replicas;
      expect([first!.lease.status().holding, second!.lease.status().holding]).toEqual([true, false]);
      for (let i = 0; i < 150; i++) await writer.append(`thing-${i % 3}`, [{ type: 'ThingHappened', data: { n: i } }], { expected: 'any' });
      await waitUntil('the first relay published the first half', async () => (await bus.jsm.streams.info(bus.event_stream)).state.messages >= 150);

      // Killed mid-stream: its connection goes while events keep coming.
      await first!.nc.close();
      for (let i = 150; i < 300; i++) await writer.append(`thing-${i % 3}`, [{ type: 'ThingHappened', data: { n: i } }], { expected: 'any' });
      await waitUntil('the second replica relays', () => second!.lease.status().holding, 10_000);
      await waitUntil('every event is on the stream', async () => (await bus.jsm.streams.info(bus.event_stream)).state.messages >= 300, 20_000);

      const published = (await storedMessages(bus.jsm, bus.event_stream)).map((m) => decodeEvent(m.data).data as { n: number });
      expect(published.map((d) => d.n).sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    } finally {
      for (const r of replicas) {
        await r.lease.stop().catch(() => undefined);
        await r.nc.close().catch(() => undefined);
        await r.store.close();
      }
      await writer.close();
      await bus.jsm.streams.delete(leases).catch(() => undefined);
    }
  });
});
