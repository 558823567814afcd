import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { decodeEvent, ensureEventStream, EventCatalogue, EventRelay, openEventStore, type BusLogger } from '@powernode/events';
import { startNatsCluster, waitUntil, type TestNatsCluster } from '@powernode/testing';

const quiet: BusLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const catalogue = new EventCatalogue([{ type: 'ThingHappened', schema_version: 1, schema: z.object({ n: z.number().int() }) }]);

/*
 * The platform's event stream on a cluster of three nats-servers, with three replicas: losing a server, even the
 * stream's leader, loses no event and does not stop the relay for long.
 */
let cluster: TestNatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let dir: string;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  // The JetStream API answers once the servers have elected a meta leader: wait for that in the first test.
  jsm = await jetstreamManager(nc, { checkAPI: false });
  dir = mkdtempSync(path.join(tmpdir(), 'pn-cluster-'));
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps every event, exactly once, when the stream leader is killed while the relay publishes', async () => {
  // JetStream elects its meta leader shortly after the servers meet: the first stream creation may have to wait.
  const info = await waitUntil(
    'the cluster to create a stream with 3 replicas',
    () => ensureEventStream(jsm, { name: 'EVENTS_CLUSTER', subjects: ['cluster.events.>'], num_replicas: 3 }).catch(() => undefined),
    30_000,
    250,
  );
  expect(info.config.num_replicas).toBe(3);

  const store = await openEventStore(`sqlite:${path.join(dir, 'events.db')}`, catalogue);
  const relay = new EventRelay({
    store,
    js: jetstream(nc),
    subject_prefix: 'cluster.events',
    expected_stream: 'EVENTS_CLUSTER',
    logger: quiet,
    retry: { initial_ms: 50, max_ms: 500 },
  });
  await relay.start();
  try {
    const append = async (from: number, count: number) => {
      for (let n = from; n < from + count; n++) await store.append(`thing-${n % 5}`, [{ type: 'ThingHappened', data: { n } }], { expected: 'any' });
    };
    await append(0, 200);
    await relay.caughtUp();

    const leader = (await jsm.streams.info('EVENTS_CLUSTER')).cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === leader)!;
    expect(victim).toBeDefined();
    await victim.kill();
    await append(200, 200);
    await relay.caughtUp();

    const stream = await jsm.streams.info('EVENTS_CLUSTER');
    const published: number[] = [];
    for (let seq = stream.state.first_seq; seq <= stream.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('EVENTS_CLUSTER', { seq });
      if (m) published.push((decodeEvent(m.data).data as { n: number }).n);
    }
    expect(published.sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, n) => n));
    const after = await jsm.streams.info('EVENTS_CLUSTER');
    expect(after.cluster?.leader).not.toBe(leader);

    // The server comes back with its store and catches up with what it missed.
    await victim.restart();
    await waitUntil(
      'the restarted server to be a current replica again',
      async () => {
        const c = (await jsm.streams.info('EVENTS_CLUSTER')).cluster;
        const peer = c?.replicas?.find((r) => r.name === victim.name);
        return c?.leader === victim.name || (peer?.current === true && (peer.lag ?? 0) === 0);
      },
      30_000,
      250,
    );
  } finally {
    await relay.stop();
    await store.close();
  }
}, 120_000);
