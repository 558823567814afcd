// PostgreSQL-specific behaviour beyond the shared contract: the schema it creates, append serialisation by the
// advisory lock, the unique-constraint backstop under a race, LISTEN/NOTIFY wake-ups, and bad configuration.
import pg from 'pg';
import type { EventEnvelope } from '@powernode/event-core';
import { PostgresEventStore } from '../../src/store/postgres-event-store.js';
import { PG_URL, dropSchema, uniqueSuffix } from './store-fixtures.js';
import { testCatalogue } from './test-catalogue.js';

/** Waits until `condition` resolves true; a liveness bound, not a speed assertion. */
async function until(condition: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PostgresEventStore on a real server', () => {
  const schema = `pn_store_pg_${uniqueSuffix()}`;
  let store: PostgresEventStore;
  let raw: pg.Client;
  // Watches pg_locks from outside `raw`'s transactions: inside one, pg_stat_activity is a frozen snapshot.
  let observer: pg.Client;

  beforeAll(async () => {
    store = await PostgresEventStore.open(PG_URL, testCatalogue(), { schema, pollIntervalMs: 60_000 });
    raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    observer = new pg.Client({ connectionString: PG_URL });
    await observer.connect();
  });

  afterAll(async () => {
    await store?.close();
    await raw?.end();
    await observer?.end();
    await dropSchema(schema);
  });

  it('creates its tables in the given schema, and opening again is harmless', async () => {
    const tables = await raw.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [
      schema,
    ]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(['checkpoints', 'events', 'projection_states']);
    const again = await PostgresEventStore.open(PG_URL, testCatalogue(), { schema });
    expect(again.schema).toBe(schema);
    await again.close();
  });

  it('upgrades a schema made before append_to_stream existed, keeping its events, and appends on from its head', async () => {
    const before = await store.append('upgraded', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' });
    // A store created by an older build has the tables and append_group only.
    await raw.query(`DROP FUNCTION "${schema}".append_to_stream`);
    const reopened = await PostgresEventStore.open(PG_URL, testCatalogue(), { schema });
    try {
      expect(await reopened.readStream('upgraded')).toEqual(before.events);
      const after = await reopened.append('upgraded', [{ type: 'TestEvent', data: { n: 2 } }], { expected: 1 });
      expect(after.events.map((e) => [e.version, e.position])).toEqual([[2, await reopened.headPosition()]]);
      expect(after.position).toBeGreaterThan(before.position);
    } finally {
      await reopened.close();
    }
  });

  it('makes an append wait for the one in flight rather than take a position past it', async () => {
    const head = await store.headPosition();
    // Holding the append lock stands in for another process's append that has not committed yet.
    const [classId, key] = await appendLockKeys();
    await raw.query('BEGIN');
    await raw.query('SELECT pg_advisory_xact_lock($1, $2)', [classId, key]);
    const pending = store.append('late-commit', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' });
    await until(async () => (await waitingOn('advisory')) > 0, 'the append to queue behind the lock');
    expect(await store.headPosition()).toBe(head);
    await raw.query(
      `INSERT INTO "${schema}".events (position, id, stream, version, type, schema_version, occurred_at, correlation_id, actor, data)
                     VALUES ($1, 'in-flight-id', 'in-flight', 1, 'TestEvent', 2, '2024-01-01T00:00:00Z', 'in-flight-id', 'system', '{"n":0}')`,
      [head + 1],
    );
    await raw.query('COMMIT');
    const result = await pending;
    expect(result.position).toBe(head + 2);
    expect((await store.readAll({ after_position: head })).map((e) => [e.stream, e.position])).toEqual([
      ['in-flight', head + 1],
      ['late-commit', head + 2],
    ]);
  });

  it('turns a unique (stream, version) violation from a writer racing outside the lock into concurrency_conflict', async () => {
    const head = await store.headPosition();
    await raw.query('BEGIN');
    await raw.query(
      `INSERT INTO "${schema}".events (position, id, stream, version, type, schema_version, occurred_at, correlation_id, actor, data)
                     VALUES ($1, 'racer-id', 'raced', 1, 'TestEvent', 2, '2024-01-01T00:00:00Z', 'racer-id', 'system', '{"n":0}')`,
      [head + 1000],
    );
    const pending = store.append('raced', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' }).catch((e: unknown) => e);
    await until(async () => (await waitingOn('transactionid')) > 0, 'the append to block on the racing row');
    await raw.query('COMMIT');
    expect(await pending).toMatchObject({ code: 'concurrency_conflict', retryable: true, details: { stream: 'raced' } });
    expect((await store.readStream('raced')).map((e) => e.id)).toEqual(['racer-id']);
  });

  it('turns a unique id violation from a writer racing outside the lock into conflict naming the id', async () => {
    const head = await store.headPosition();
    const id = '0190a0a0-0000-7000-8000-00000000abcd';
    await raw.query('BEGIN');
    await raw.query(
      `INSERT INTO "${schema}".events (position, id, stream, version, type, schema_version, occurred_at, correlation_id, actor, data)
                     VALUES ($1, $2, 'id-racer', 1, 'TestEvent', 2, '2024-01-01T00:00:00Z', $2, 'system', '{"n":0}')`,
      [head + 1000, id],
    );
    const pending = store.append('id-raced', [{ id, type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' }).catch((e: unknown) => e);
    await until(async () => (await waitingOn('transactionid')) > 0, 'the append to block on the racing id');
    await raw.query('COMMIT');
    expect(await pending).toMatchObject({ code: 'conflict', details: { id } });
    expect(await store.streamVersion('id-raced')).toBe(0);
  });

  it('wakes a subscriber through LISTEN/NOTIFY when another process appends (its poll interval is a minute)', async () => {
    const writer = await PostgresEventStore.open(PG_URL, testCatalogue(), { schema });
    try {
      const from = await store.headPosition();
      const seen: EventEnvelope[] = [];
      const subscription = store.subscribeAll({ after_position: from, onEvents: (events) => void seen.push(...events) });
      await subscription.caughtUp;
      // The listener connects asynchronously; an append before it listens would only be found by the next poll.
      await until(
        async () => (await observer.query(`SELECT 1 FROM pg_stat_activity WHERE query = 'LISTEN "${schema}_events"'`)).rowCount === 1,
        'the listener',
      );
      const { events } = await writer.append('notified', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' });
      await until(() => seen.length >= 1, 'the notification to wake the subscriber');
      await subscription.stop();
      expect(seen).toEqual(events);
    } finally {
      await writer.close();
    }
  });

  it('refuses provenance text PostgreSQL cannot hold (U+0000) with invalid_event, failing only that append', async () => {
    // The first append occupies the connection, so the next two queue up and are sent as one group.
    const [first, bad, good] = await Promise.allSettled([
      store.append('nul-first', [{ type: 'TestEvent', data: { n: 0 } }], { expected: 'no_stream' }),
      store.append('nul-actor', [{ type: 'TestEvent', data: { n: 1 }, actor: 'user:\u0000' }], { expected: 'no_stream' }),
      store.append('nul-neighbour', [{ type: 'TestEvent', data: { n: 1, text: 'data may hold \u0000' } }], { expected: 'no_stream' }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'invalid_event' } });
    expect(await store.streamVersion('nul-actor')).toBe(0);
    expect(good.status).toBe('fulfilled');
    expect((await store.readStream('nul-neighbour'))[0]?.data).toEqual({ n: 1, text: 'data may hold \u0000' });
  });

  it('refuses a schema name that is not a plain identifier with config_invalid, before connecting', async () => {
    for (const bad of ['Powernode', 'drop table;', '1abc', '', 'x'.repeat(41)]) {
      await expect(PostgresEventStore.open('postgresql://nobody@127.0.0.1:1/none', testCatalogue(), { schema: bad })).rejects.toMatchObject({
        code: 'config_invalid',
      });
    }
  });

  it('reports an unreachable server as store_unavailable without leaking the password', async () => {
    const error = await PostgresEventStore.open('postgresql://powernode:s3cret@127.0.0.1:1/none', testCatalogue(), { schema: 'unreachable' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'store_unavailable', retryable: true });
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('s3cret');
  });

  /** How many of this store's appends (either append function) are blocked waiting for a lock of the given type. */
  async function waitingOn(lockType: string): Promise<number> {
    const r = await observer.query(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE NOT l.granted AND l.locktype = $1 AND a.datname = current_database() AND position($2 IN a.query) > 0`,
      [lockType, `"${schema}".append_`],
    );
    return (r.rows[0] as { n: number }).n;
  }

  async function appendLockKeys(): Promise<[number, number]> {
    const { postgresLayout } = await import('../../src/store/postgres-schema.js');
    const [a, b] = postgresLayout(schema).appendLock;
    return [a, b];
  }
});
