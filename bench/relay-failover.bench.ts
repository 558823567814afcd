// Relay failover: the replica holding the relay lease dies (its NATS connection goes, nothing released) while the
// log grows; measured is the time from the kill to the first event published by the replica that takes over.
// Target: under 5 s. Baseline in the same run: a holder that stops cleanly and releases the lease.
// Two replicas share one SQLite store and one NATS server, each with a connection of its own, as two processes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';
import { DEFAULT_LEASE_TTL_MS, EventCatalogue, EventRelay, ensureEventStream, ensureLeaseStream, JetStreamLease, type BusLogger } from '@powernode/events';
import { SqliteEventStore } from '../libs/events/src/store/sqlite-event-store.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ROUNDS = 5;
const TARGET_MS = 5000;
const quiet: BusLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const catalogue = new EventCatalogue([{ type: 'BenchTicked', schema_version: 1, schema: z.object({ i: z.number().int() }) }]);

async function replica(file: string, names: { events: string; prefix: string; leases: string }, holder: string) {
  const nc = await connect({ servers: NATS_URL, reconnect: false });
  const js = jetstream(nc);
  const store = SqliteEventStore.open(file, catalogue);
  const relay = new EventRelay({ store, js, subject_prefix: names.prefix, expected_stream: names.events, logger: quiet });
  const lease = new JetStreamLease({
    js,
    jsm: await jetstreamManager(nc),
    stream: names.leases,
    subject: `${names.leases}.relay`,
    holder,
    logger: quiet,
    onAcquired: () => relay.start(),
    onLost: () => relay.stop(),
  });
  await lease.start();
  return { nc, store, relay, lease };
}

/** One round: returns ms from the holder's end to the first event the other replica published. */
async function round(dir: string, how: 'killed' | 'released'): Promise<number> {
  const id = randomBytes(4).toString('hex');
  const admin = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(admin);
  const names = { events: `PN_FAILOVER_${id}`, prefix: `pnfailover.${id}.ev`, leases: `PN_FAILOVER_LEASES_${id}` };
  await ensureEventStream(jsm, { name: names.events, subjects: [`${names.prefix}.>`] });
  await ensureLeaseStream(jsm, { name: names.leases, subjects: [`${names.leases}.>`] });
  const file = path.join(dir, `events-${id}.db`);
  const writer = SqliteEventStore.open(file, catalogue);
  const first = await replica(file, names, 'first');
  const second = await replica(file, names, 'second');
  try {
    for (let i = 0; i < 20; i++) await writer.append('ticks', [{ type: 'BenchTicked', data: { i } }], { expected: 'any' });
    await first.relay.caughtUp();
    const before = (await jsm.streams.info(names.events)).state.messages;
    const endedAt = performance.now();
    if (how === 'killed') await first.nc.close();
    else await first.lease.stop();
    await writer.append('ticks', [{ type: 'BenchTicked', data: { i: 20 } }], { expected: 'any' });
    while ((await jsm.streams.info(names.events)).state.messages <= before) await new Promise((r) => setTimeout(r, 10));
    return performance.now() - endedAt;
  } finally {
    for (const r of [first, second]) {
      await r.lease.stop().catch(() => undefined);
      await r.nc.close().catch(() => undefined);
      await r.store.close();
    }
    await writer.close();
    await jsm.streams.delete(names.events).catch(() => undefined);
    await jsm.streams.delete(names.leases).catch(() => undefined);
    await admin.close();
  }
}

export async function benchRelayFailover(report: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'powernode-failover-bench-'));
  try {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const released: number[] = [];
    const killed: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      released.push(await round(dir, 'released'));
      killed.push(await round(dir, 'killed'));
    }
    report(
      `relay handover, holder stopped cleanly (baseline): median ${median(released).toFixed(0)} ms, max ${Math.max(...released).toFixed(0)} ms over ${ROUNDS} rounds`,
    );
    const worst = Math.max(...killed);
    report(
      `relay failover, holder killed → first event published by the new holder: median ${median(killed).toFixed(0)} ms, max ${worst.toFixed(0)} ms over ${ROUNDS} rounds (lease TTL ${DEFAULT_LEASE_TTL_MS} ms; target < ${TARGET_MS} ms) ${worst < TARGET_MS ? 'OK' : 'ABOVE TARGET'}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
