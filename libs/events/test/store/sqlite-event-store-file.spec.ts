// SQLite-specific behaviour beyond the shared contract: the file's settings, reopening, group commit, and
// what happens when the file or the write lock is not what the store expects.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import { testCatalogue } from './test-catalogue.js';

describe('SqliteEventStore file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'powernode-sqlite-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates missing directories, uses WAL and reports the synchronous setting it applied', async () => {
    const path = join(dir, 'nested', 'deeper', 'events.db');
    const durable = SqliteEventStore.open(path, testCatalogue());
    expect(durable.synchronous).toBe('full');
    await durable.close();
    const relaxed = SqliteEventStore.open(path, testCatalogue(), { synchronous: 'normal' });
    expect(relaxed.synchronous).toBe('normal');
    await relaxed.close();
    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(1);
    } finally {
      raw.close();
    }
  });

  it('keeps events, checkpoints and snapshots across close and reopen', async () => {
    const path = join(dir, 'events.db');
    const first = SqliteEventStore.open(path, testCatalogue());
    const { events } = await first.append('reopen-1', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' });
    await first.checkpoints.set('relay', events[0]!.position);
    await first.projections.save('modules', { n: 1 }, events[0]!.position);
    await first.close();
    const second = SqliteEventStore.open(path, testCatalogue());
    try {
      expect(await second.readStream('reopen-1')).toEqual(events);
      expect(await second.checkpoints.get('relay')).toBe(events[0]!.position);
      expect(await second.projections.load('modules')).toEqual({ state: { n: 1 }, position: events[0]!.position });
      expect((await second.append('reopen-1', [{ type: 'TestEvent', data: { n: 2 } }], { expected: 1 })).position).toBe(2);
    } finally {
      await second.close();
    }
  });

  it('group-commits concurrent appends, each judged on its own: a conflict fails only its append and leaves no gap', async () => {
    const store = SqliteEventStore.open(join(dir, 'events.db'), testCatalogue());
    try {
      await store.append('group-b', [{ type: 'TestEvent', data: { n: 0 } }], { expected: 'no_stream' });
      const settled = await Promise.allSettled([
        store.append('group-a', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' }),
        store.append('group-b', [{ type: 'TestEvent', data: { n: 2 } }], { expected: 5 }),
        store.append(
          'group-c',
          [
            { type: 'TestEvent', data: { n: 3 } },
            { type: 'TestEvent', data: { n: 4 } },
          ],
          { expected: 'no_stream' },
        ),
        store.append('group-a', [{ type: 'TestEvent', data: { n: 5 } }], { expected: 1 }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'concurrency_conflict' });
      const log = await store.readAll();
      expect(log.map((e) => e.position)).toEqual([1, 2, 3, 4, 5]);
      expect(log.map((e) => [e.stream, e.version])).toEqual([
        ['group-b', 1],
        ['group-a', 1],
        ['group-c', 1],
        ['group-c', 2],
        ['group-a', 2],
      ]);
    } finally {
      await store.close();
    }
  });

  it('commits a burst of 500 concurrent appends with gapless positions matching their results', async () => {
    const store = SqliteEventStore.open(join(dir, 'events.db'), testCatalogue());
    try {
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, n) => store.append(`burst-${n % 7}`, [{ type: 'TestEvent', data: { n } }], { expected: 'any' })),
      );
      expect(results.map((r) => r.position).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      const log = await store.readAll();
      for (const r of results) expect(log[r.position - 1]).toEqual(r.events[0]);
    } finally {
      await store.close();
    }
  });

  it('fails an append with a retryable store_unavailable while another process holds the write lock past the busy timeout', async () => {
    const path = join(dir, 'events.db');
    const store = SqliteEventStore.open(path, testCatalogue(), { busyTimeoutMs: 50 });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const error = await store.append('locked', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'any' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'store_unavailable', retryable: true });
      expect((error as Error).message).toContain('SQLITE_BUSY');
      other.exec('ROLLBACK');
      expect((await store.append('locked', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' })).position).toBe(1);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('refuses a file that is not an event store with store_unavailable naming the path', async () => {
    const path = join(dir, 'not-a-database.db');
    await writeFile(path, 'this is not SQLite'.repeat(100));
    expect(() => SqliteEventStore.open(path, testCatalogue())).toThrow(
      expect.objectContaining({ code: 'store_unavailable', message: expect.stringContaining(path) }),
    );
  });

  it('refuses a file written by a newer layout version', async () => {
    const path = join(dir, 'events.db');
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.close();
    expect(() => SqliteEventStore.open(path, testCatalogue())).toThrow(
      expect.objectContaining({ code: 'store_unavailable', message: expect.stringContaining('layout version 7') }),
    );
  });
});
