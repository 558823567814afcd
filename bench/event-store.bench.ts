// Event store throughput: single-event appends (one writer, and many concurrent writers sharing group
// commits), batched appends (100 events per append) and global-log replay (readAll in batches), for every
// adapter reachable here. Each figure states its durability setting; the SQLite figures are also given as a
// ratio to this disk's raw fsync rate, and single-event appends of the durable adapters as a ratio to the raw
// storage engine (one-row transactions through better-sqlite3, one-row INSERTs through pgbench -c 1), all
// measured in the same run, the raw figure right before and right after the adapter's.
//
// Run alone: npx tsx --tsconfig tsconfig.base.json bench/event-store.bench.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { EventCatalogue } from '../libs/events/src/catalogue.js';
import type { NewEvent } from '../libs/event-core/src/envelope.js';
import type { EventStore } from '../libs/events/src/store/event-store.js';
import { MemoryEventStore } from '../libs/events/src/store/memory-event-store.js';
import { PostgresEventStore } from '../libs/events/src/store/postgres-event-store.js';
import { SqliteEventStore } from '../libs/events/src/store/sqlite-event-store.js';
import { type Rate, diskFsyncRate, pgbenchInsertRate, sqliteInsertRate } from './store-baselines.js';

const PG_URL = process.env.POWERNODE_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
/** Replay is measured over at least this many events. */
const REPLAY_MIN_EVENTS = 100_000;
const BATCH = 100;
const CONCURRENT_WRITERS = 64;
const STREAMS = 1000;

const catalogue = new EventCatalogue([
  { type: 'BenchEvent', schema_version: 1, schema: z.object({ n: z.number().int(), module: z.string(), digest: z.string() }) },
]);

// ~150 bytes of data, about what a catalog event carries.
function benchEvent(n: number): NewEvent {
  return { type: 'BenchEvent', data: { n, module: `module-${n % 97}`, digest: `sha256:${'ab'.repeat(32)}` }, actor: 'bench' };
}

/** Runs `step` until `maxCount` operations or `maxSeconds` have passed; returns the measured rate. */
async function measure(maxCount: number, maxSeconds: number, step: (i: number) => Promise<number>): Promise<Rate> {
  const start = performance.now();
  let count = 0;
  for (let i = 0; count < maxCount && performance.now() - start < maxSeconds * 1000; i++) count += await step(i);
  const seconds = (performance.now() - start) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

/** Same, with `writers` concurrent loops; each step is one single-event append. */
async function measureConcurrent(store: EventStore, writers: number, maxCount: number, maxSeconds: number): Promise<Rate> {
  const start = performance.now();
  let count = 0;
  const deadline = start + maxSeconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; count < maxCount && performance.now() < deadline; i++) {
        await store.append(`writer-${w}`, [benchEvent(i)], { expected: 'any' });
        count++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

async function replay(store: EventStore, batchSize: number): Promise<Rate> {
  const start = performance.now();
  let count = 0;
  for (let position = 0; ;) {
    const batch = await store.readAll({ after_position: position, limit: batchSize });
    if (batch.length === 0) break;
    count += batch.length;
    position = batch[batch.length - 1]!.position;
  }
  const seconds = (performance.now() - start) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const line = (r: Rate, unit: string) => `${fmt(r.perSecond)} ${unit}/s (${fmt(r.count)} in ${r.seconds.toFixed(2)} s)`;

/** The storage engine with nothing on top, measured for the same time as the adapter's single-event appends. */
interface RawBaseline {
  /** What was measured, e.g. `pgbench -c 1 one-row INSERTs`. */
  name: string;
  unit: string;
  measure: (seconds: number) => Promise<Rate>;
}

/** Appends, batches and replays against one store; `label` names the adapter and its durability setting. */
async function benchStore(
  report: (line: string) => void,
  label: string,
  store: EventStore,
  budget: { single: number; concurrent: number; batched: number },
  fsync?: Rate,
  raws: RawBaseline[] = [],
): Promise<void> {
  const ratio = (r: Rate) => (fsync === undefined ? '' : ` = ${(r.perSecond / fsync.perSecond).toFixed(2)}× the disk's fsync rate`);
  // The raw baselines and the adapter take turns in one-second slices: on a shared machine the disk's and the
  // CPU's load drift within a run, and a baseline measured only before and after the adapter can land in a
  // quieter (or busier) moment than the adapter did.
  const slices = Math.max(1, Math.round(budget.single));
  const rawTotals = raws.map(() => ({ count: 0, seconds: 0 }));
  const adapterTotal = { count: 0, seconds: 0 };
  for (let slice = 0; slice < slices; slice++) {
    for (const [i, raw] of raws.entries()) {
      const r = await raw.measure(budget.single / slices);
      rawTotals[i]!.count += r.count;
      rawTotals[i]!.seconds += r.seconds;
    }
    const r = await measure(20_000, budget.single / slices, async (i) => {
      await store.append(`stream-${i % STREAMS}`, [benchEvent(adapterTotal.count + i)], { expected: 'any' });
      return 1;
    });
    adapterTotal.count += r.count;
    adapterTotal.seconds += r.seconds;
  }
  const single: Rate = { ...adapterTotal, perSecond: adapterTotal.count / adapterTotal.seconds };
  report(`  ${label}: single-event appends, 1 writer: ${line(single, 'appends')}${ratio(single)}`);
  raws.forEach((raw, i) => {
    const rate = rawTotals[i]!.count / rawTotals[i]!.seconds;
    report(`    = ${(single.perSecond / rate).toFixed(2)}× ${raw.name}: ${fmt(rate)} ${raw.unit}/s (taking turns with the adapter in ${slices} slices)`);
  });
  const concurrent = await measureConcurrent(store, CONCURRENT_WRITERS, 200_000, budget.concurrent);
  report(`  ${label}: single-event appends, ${CONCURRENT_WRITERS} concurrent writers (group commit): ${line(concurrent, 'appends')}${ratio(concurrent)}`);
  const batched = await measure(Number.MAX_SAFE_INTEGER, budget.batched, async (i) => {
    const events = Array.from({ length: BATCH }, (_, k) => benchEvent(i * BATCH + k));
    await store.append(`batch-${i % STREAMS}`, events, { expected: 'any' });
    return BATCH;
  });
  report(`  ${label}: batched appends (${BATCH} events/append): ${line(batched, 'events')}`);
  // Top the log up so replay always covers at least REPLAY_MIN_EVENTS.
  let head = await store.headPosition();
  for (let i = 0; head < REPLAY_MIN_EVENTS; i++) {
    head = (
      await store.append(
        `fill-${i % STREAMS}`,
        Array.from({ length: 1000 }, (_, k) => benchEvent(k)),
        { expected: 'any' },
      )
    ).position;
  }
  const replayed = await replay(store, 1000);
  report(`  ${label}: global-log replay (readAll, 1000/batch): ${line(replayed, 'events')}`);
}

/** Runs the event store benchmark for memory, SQLite and (when reachable) PostgreSQL, reporting one line per figure. */
export async function benchEventStore(report: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'powernode-bench-store-'));
  try {
    report('event store throughput');
    const fsync = diskFsyncRate(dir);
    report(`  baseline: this disk's raw write+fdatasync rate: ${line(fsync, 'fsyncs')}`);

    // Each adapter runs in its own function so the previous one's events can be garbage-collected.
    await benchMemory(report);
    await benchSqlite(report, dir, fsync);
    await benchPostgres(report);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchMemory(report: (line: string) => void): Promise<void> {
  const memory = new MemoryEventStore(catalogue);
  await benchStore(report, 'memory (no durability)', memory, { single: 2, concurrent: 2, batched: 2 });
  await memory.close();
}

async function benchSqlite(report: (line: string) => void, dir: string, fsync: Rate): Promise<void> {
  const full = SqliteEventStore.open(join(dir, 'full.db'), catalogue, { synchronous: 'full' });
  const raws = (['wal', 'delete'] as const).map((journal): RawBaseline => ({
    name: `raw better-sqlite3 one-row transactions, synchronous=FULL, journal_mode=${journal.toUpperCase()}`,
    unit: 'transactions',
    measure: async (seconds) => sqliteInsertRate(join(dir, `raw-${journal}.db`), journal, 20_000, seconds),
  }));
  await benchStore(report, 'sqlite synchronous=FULL (durable: fsync per commit)', full, { single: 4, concurrent: 4, batched: 4 }, fsync, raws);
  await full.close();
  const normal = SqliteEventStore.open(join(dir, 'normal.db'), catalogue, { synchronous: 'normal' });
  const relaxed = await measure(50_000, 3, async (i) => {
    await normal.append(`stream-${i % STREAMS}`, [benchEvent(i)], { expected: 'any' });
    return 1;
  });
  report(
    `  sqlite synchronous=NORMAL (NOT durable on power loss: WAL fsynced at checkpoints only): single-event appends, 1 writer: ${line(relaxed, 'appends')}`,
  );
  await normal.close();
}

async function benchPostgres(report: (line: string) => void): Promise<void> {
  const schema = `pn_bench_${randomBytes(4).toString('hex')}`;
  let postgres: PostgresEventStore;
  try {
    postgres = await PostgresEventStore.open(PG_URL, catalogue, { schema });
  } catch (error) {
    report(`  postgres: skipped, ${(error as Error).message}`);
    return;
  }
  try {
    const setting = await serverSetting('synchronous_commit');
    const durability = setting === 'on' ? ' (durable: WAL flushed per commit)' : ' (NOT durable)';
    const raw: RawBaseline = {
      name: `raw pgbench -c 1 one-row INSERTs (prepared, synchronous_commit=${setting})`,
      unit: 'transactions',
      measure: (seconds) => pgbenchInsertRate(PG_URL, schema, seconds),
    };
    const pgbenchMissing = await raw.measure(1).then(
      () => undefined,
      (error: Error) => error.message,
    );
    if (pgbenchMissing !== undefined) report(`  postgres: no pgbench baseline, ${pgbenchMissing}`);
    await benchStore(
      report,
      `postgres synchronous_commit=${setting}${durability}`,
      postgres,
      { single: 4, concurrent: 4, batched: 4 },
      undefined,
      pgbenchMissing === undefined ? [raw] : [],
    );
  } finally {
    await postgres.close();
    await dropSchema(schema);
  }
}

async function serverSetting(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]?.setting ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  await benchEventStore((l) => console.log(l));
  console.log(`  (total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
