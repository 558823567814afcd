import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KurrentEventStore } from '../../src/store/kurrent-event-store.js';
import { MemoryEventStore } from '../../src/store/memory-event-store.js';
import { openEventStore, parseEventStoreUrl } from '../../src/store/open-event-store.js';
import { PostgresEventStore } from '../../src/store/postgres-event-store.js';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import { PG_URL, dropSchema, uniqueSuffix } from './store-fixtures.js';
import { testCatalogue } from './test-catalogue.js';

describe('parseEventStoreUrl', () => {
  it.each([
    ['sqlite:./.data/events.db', { adapter: 'sqlite', path: './.data/events.db' }],
    ['sqlite:/var/lib/powernode/events.db', { adapter: 'sqlite', path: '/var/lib/powernode/events.db' }],
    ['sqlite:///var/lib/powernode/events.db', { adapter: 'sqlite', path: '/var/lib/powernode/events.db' }],
    ['postgres://u@db:5432/powernode', { adapter: 'postgres', url: 'postgres://u@db:5432/powernode' }],
    ['postgresql://u:p@db/powernode?sslmode=require', { adapter: 'postgres', url: 'postgresql://u:p@db/powernode?sslmode=require' }],
    ['kurrentdb://db:2113?tls=false', { adapter: 'kurrentdb', url: 'kurrentdb://db:2113?tls=false' }],
    ['esdb://db:2113?tls=false', { adapter: 'kurrentdb', url: 'esdb://db:2113?tls=false' }],
    ['kurrentdb+discover://a,b,c:2113', { adapter: 'kurrentdb', url: 'kurrentdb+discover://a,b,c:2113' }],
    ['memory:', { adapter: 'memory' }],
  ])('reads %s', (url, expected) => {
    expect(parseEventStoreUrl(url)).toEqual(expected);
  });

  it.each([
    ['', 'it is empty'],
    ['   ', 'it is empty'],
    ['events.db', 'no scheme'],
    ['mysql://db/powernode', 'mysql: is not supported'],
    ['sqlite:', 'needs a file path'],
    ['postgres:db', 'postgres://user@host'],
    ['esdb:db', 'kurrentdb://host'],
    ['memory:extra', 'nothing after the colon'],
  ])('refuses %j with config_invalid naming EVENT_STORE_URL and the accepted forms', (url, why) => {
    let error: unknown;
    try {
      parseEventStoreUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'config_invalid', retryable: false, details: { field: 'EVENT_STORE_URL' } });
    const message = (error as Error).message;
    expect(message).toContain('EVENT_STORE_URL');
    expect(message).toContain(why);
    expect(message).toContain('sqlite:<path>, postgres://…, postgresql://…, kurrentdb://…, esdb://… or memory:');
  });
});

describe('openEventStore', () => {
  it('opens an in-memory store for memory:', async () => {
    const store = await openEventStore('memory:', testCatalogue());
    expect(store).toBeInstanceOf(MemoryEventStore);
    expect((await store.append('s', [{ type: 'TestEvent', data: { n: 1 } }], { expected: 'no_stream' })).position).toBe(1);
    await store.close();
  });

  it('opens a SQLite file with the requested synchronous setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'powernode-open-store-'));
    try {
      const store = await openEventStore(`sqlite:${join(dir, 'events.db')}`, testCatalogue(), { synchronous: 'normal' });
      expect(store).toBeInstanceOf(SqliteEventStore);
      expect((store as SqliteEventStore).synchronous).toBe('normal');
      expect(store.adapter).toBe('sqlite');
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens PostgreSQL in the requested schema', async () => {
    const schema = `pn_open_store_${uniqueSuffix()}`;
    try {
      const store = await openEventStore(PG_URL, testCatalogue(), { schema });
      expect(store).toBeInstanceOf(PostgresEventStore);
      expect((store as PostgresEventStore).schema).toBe(schema);
      await store.ping();
      await store.close();
    } finally {
      await dropSchema(schema);
    }
  });

  it('creates a KurrentDB client for esdb:// and kurrentdb:// without contacting a server', async () => {
    for (const url of ['esdb://127.0.0.1:1?tls=false', 'kurrentdb://127.0.0.1:1?tls=false']) {
      const store = await openEventStore(url, testCatalogue());
      expect(store).toBeInstanceOf(KurrentEventStore);
      expect(store.adapter).toBe('kurrentdb');
      await store.close();
    }
  });

  it('refuses a malformed KurrentDB connection string with config_invalid', async () => {
    await expect(openEventStore('kurrentdb://127.0.0.1:2113?tls=maybe&nodePreference=sideways', testCatalogue())).rejects.toMatchObject({
      code: 'config_invalid',
    });
  });
});
