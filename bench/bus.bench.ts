// Bus latency: time from the `append` call to the durable consumer's handler, through the whole path
// store → relay → JetStream → durable pull consumer, at a fixed offered rate (open loop: appends are issued on
// schedule whether or not earlier ones finished, so a stall shows up in the figures instead of hiding).
// Target: p99 < 20 ms at 1,000 events/s. The in-memory store runs the same path as the baseline.
// Durability: SQLite synchronous=FULL (every group commit fsynced before append resolves); JetStream file
// storage with nats-server's default sync policy (not fsynced per message); processed ledger in SQLite with
// synchronous=NORMAL.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DurableConsumer,
  connectBus,
  EventCatalogue,
  EventRelay,
  MemoryEventStore,
  ensureEventStream,
  openSqliteProcessedLedger,
  uuidv7,
  type BusLogger,
  type EventStore,
} from '@powernode/events';
import { z } from 'zod';
import { SqliteEventStore } from '../libs/events/src/store/sqlite-event-store.js';

const RATE_PER_SECOND = 1000;
const DURATION_MS = 5000;
const WARM_UP_MS = 500;
const TARGET_P99_MS = 20;
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const quiet: BusLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (obj, msg) => console.error(msg, obj) };

interface LatencyFigures {
  count: number;
  p50: number;
  p99: number;
  max: number;
  append_p99: number;
  /** CPU time of this process (all of store, relay, consumer) per event. */
  cpu_us_per_event: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(adapter: 'sqlite' | 'memory', dir: string): Promise<LatencyFigures> {
  const id = randomBytes(4).toString('hex');
  const catalogue = new EventCatalogue([{ type: 'BenchTicked', schema_version: 1, schema: z.object({ i: z.number().int() }) }]);
  const store: EventStore = adapter === 'sqlite' ? SqliteEventStore.open(path.join(dir, `events-${id}.db`), catalogue) : new MemoryEventStore(catalogue);
  const ledger = await openSqliteProcessedLedger(path.join(dir, `ledger-${id}.db`));
  const bus = await connectBus({ url: NATS_URL, name: `bus-bench-${id}` });
  const { js, jsm } = bus;
  const streamName = `PN_BENCH_${id}`;
  const prefix = `pnbench.${id}.ev`;
  await ensureEventStream(jsm, { name: streamName, subjects: [`${prefix}.>`] });

  const issuedAt = new Map<string, number>();
  const appendMs: number[] = [];
  const latencies: { at: number; ms: number }[] = [];
  const total = Math.round((RATE_PER_SECOND * DURATION_MS) / 1000);
  let allHandled!: () => void;
  const handledAll = new Promise<void>((r) => (allHandled = r));

  const relay = new EventRelay({ store, js, subject_prefix: prefix, expected_stream: streamName, logger: quiet });
  const consumer = new DurableConsumer({
    js,
    jsm,
    stream: streamName,
    durable: `bench_${id}`,
    filter_subjects: [`${prefix}.>`],
    ledger,
    dead_letter_subject: `pnbench.${id}.dlq`,
    logger: quiet,
    handler: async (event) => {
      const t0 = issuedAt.get(event.id);
      if (t0 !== undefined) latencies.push({ at: t0, ms: performance.now() - t0 });
      if (latencies.length === total) allHandled();
    },
  });
  try {
    await consumer.start();
    await relay.start();

    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < total;) {
      const due = Math.floor(((performance.now() - started) * RATE_PER_SECOND) / 1000) + 1;
      for (; i < Math.min(due, total); i++) {
        const eventId = uuidv7();
        const t0 = performance.now();
        issuedAt.set(eventId, t0);
        appends.push(
          store
            .append(`tick-${i % 100}`, [{ id: eventId, type: 'BenchTicked', data: { i } }], { expected: 'any' })
            .then(() => appendMs.push(performance.now() - t0)),
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(appends);
    const timeout = setTimeout(() => allHandled(), 30_000);
    await handledAll;
    clearTimeout(timeout);
    const cpu = process.cpuUsage(cpuBefore);
    if (latencies.length < total) throw new Error(`only ${latencies.length} of ${total} events reached the consumer within 30 s`);

    const measured = latencies
      .filter((l) => l.at - started >= WARM_UP_MS)
      .map((l) => l.ms)
      .sort((a, b) => a - b);
    const appendSorted = [...appendMs].sort((a, b) => a - b);
    return {
      count: measured.length,
      p50: percentile(measured, 50),
      p99: percentile(measured, 99),
      max: measured[measured.length - 1]!,
      append_p99: percentile(appendSorted, 99),
      cpu_us_per_event: (cpu.user + cpu.system) / total,
    };
  } finally {
    await relay.stop();
    await consumer.stop();
    await jsm.streams.delete(streamName).catch(() => false);
    await bus.close();
    ledger.close();
    await store.close();
  }
}

/** Store→consumer latency at 1,000 events/s for 5 s, SQLite (fsync per group commit) against the in-memory store. */
export async function benchBus(report: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'powernode-bus-bench-'));
  try {
    const memory = await measure('memory', dir);
    const sqlite = await measure('sqlite', dir);
    const line = (name: string, f: LatencyFigures) =>
      `bus store→consumer ${name}: ${f.count} events at ${RATE_PER_SECOND}/s: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, max ${f.max.toFixed(1)} ms (append p99 ${f.append_p99.toFixed(2)} ms, CPU ${f.cpu_us_per_event.toFixed(0)} µs/event)`;
    report(line('memory (baseline)', memory));
    report(line('sqlite synchronous=FULL', sqlite));
    report(`bus store→consumer p99 ratio sqlite/memory: ${(sqlite.p99 / memory.p99).toFixed(2)}`);
    report(`bus store→consumer sqlite p99 ${sqlite.p99.toFixed(2)} ms (target < ${TARGET_P99_MS} ms) ${sqlite.p99 < TARGET_P99_MS ? 'OK' : 'ABOVE TARGET'}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchBus((line) => console.log(line));
}
