import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { connectBus } from '../../src/bus/bus-connection.js';
import { ensureDeadLetterStream, ensureEventStream } from '../../src/bus/event-stream.js';
import { NATS_URL, uniqueId } from './bus-fixture.js';

describe('ensureEventStream', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const created: string[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    for (const name of created) await jsm.streams.delete(name).catch(() => false);
    await nc.close();
  });

  function names() {
    const id = uniqueId();
    const name = `PN_TEST_${id}`;
    created.push(name);
    return { name, subject: `pntest.${id}.ev.>` };
  }

  it('creates the stream with its subjects and duplicate window, and is a no-op when called again', async () => {
    const { name, subject } = names();
    const first = await ensureEventStream(jsm, { name, subjects: [subject], duplicate_window_ms: 90_000 });
    expect(first.config).toMatchObject({ name, subjects: [subject], duplicate_window: nanos(90_000), storage: 'file', retention: 'limits' });
    const again = await ensureEventStream(jsm, { name, subjects: [subject], duplicate_window_ms: 90_000 });
    expect(again.created).toEqual(first.created);
    expect(again.config).toEqual(first.config);
  });

  it('brings an existing stream to a new duplicate window and subject set', async () => {
    const { name, subject } = names();
    await ensureEventStream(jsm, { name, subjects: [subject], duplicate_window_ms: 60_000 });
    const extra = subject.replace('.ev.>', '.more.>');
    const updated = await ensureEventStream(jsm, { name, subjects: [subject, extra], duplicate_window_ms: 300_000 });
    expect(updated.config.duplicate_window).toBe(nanos(300_000));
    expect(updated.config.subjects.sort()).toEqual([subject, extra].sort());
    expect((await jsm.streams.info(name)).config.duplicate_window).toBe(nanos(300_000));
  });

  it('refuses subjects another stream already owns, as bus_unavailable naming the stream', async () => {
    const owner = names();
    await ensureEventStream(jsm, { name: owner.name, subjects: [owner.subject] });
    const intruder = names();
    await expect(ensureEventStream(jsm, { name: intruder.name, subjects: [owner.subject] })).rejects.toMatchObject({
      code: 'bus_unavailable',
      message: expect.stringContaining(intruder.name),
      details: { stream: intruder.name, subjects: [owner.subject] },
    });
  });

  it('creates the dead-letter stream the same way', async () => {
    const { name, subject } = names();
    const info = await ensureDeadLetterStream(jsm, { name, subjects: [subject.replace('.ev.>', '.dlq.>')] });
    expect(info.config.subjects).toEqual([subject.replace('.ev.>', '.dlq.>')]);
  });
});

describe('connectBus', () => {
  it('connects with JetStream clients ready to use', async () => {
    const bus = await connectBus({ url: NATS_URL, name: 'bus-connection-test' });
    try {
      expect(typeof (await bus.jsm.getAccountInfo()).streams).toBe('number');
      expect(bus.nc.isClosed()).toBe(false);
    } finally {
      await bus.close();
    }
    expect(bus.nc.isClosed()).toBe(true);
  });

  it('reports an unreachable server as bus_unavailable naming the address', async () => {
    await expect(connectBus({ url: 'nats://127.0.0.1:1' })).rejects.toMatchObject({
      code: 'bus_unavailable',
      message: expect.stringContaining('nats://127.0.0.1:1'),
    });
  });
});
