// How the contract suite gets a fresh store of each kind: temp files, throw-away PostgreSQL schemas.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { EventStore } from '../../src/store/event-store.js';
import { KurrentEventStore } from '../../src/store/kurrent-event-store.js';
import { MemoryEventStore } from '../../src/store/memory-event-store.js';
import { PostgresEventStore } from '../../src/store/postgres-event-store.js';
import { SqliteEventStore } from '../../src/store/sqlite-event-store.js';
import type { EventStoreFixture } from './event-store.contract.js';
import { testCatalogue } from './test-catalogue.js';

export const PG_URL = process.env.POWERNODE_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** A unique lower-case suffix for names that must not collide with concurrent runs. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** Closes every handle a fixture opened, then runs its own clean-up. */
function tracked(store: EventStore, open: () => Promise<EventStore>, cleanup: () => Promise<void>): Pick<EventStoreFixture, 'store' | 'reopen' | 'dispose'> {
  const handles: EventStore[] = [store];
  return {
    store,
    reopen: async () => {
      const h = await open();
      handles.push(h);
      return h;
    },
    dispose: async () => {
      for (const h of handles) await h.close();
      await cleanup();
    },
  };
}

export async function memoryFixture(): Promise<EventStoreFixture> {
  const store = new MemoryEventStore(testCatalogue());
  return { store, dispose: () => store.close() };
}

/** A store file in a fresh temp directory, removed afterwards. */
export async function sqliteFixture(): Promise<EventStoreFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'powernode-sqlite-store-'));
  const path = join(dir, 'events.db');
  const open = async () => SqliteEventStore.open(path, testCatalogue(), { pollIntervalMs: 25 });
  return { ...tracked(await open(), open, () => rm(dir, { recursive: true, force: true })), shared: { url: `sqlite:${path}` } };
}

/** A store in a schema of its own, dropped afterwards. */
export async function postgresFixture(): Promise<EventStoreFixture> {
  const schema = `pn_store_test_${uniqueSuffix()}`;
  const open = async () => PostgresEventStore.open(PG_URL, testCatalogue(), { schema, pollIntervalMs: 200 });
  return { ...tracked(await open(), open, () => dropSchema(schema)), shared: { url: PG_URL, options: { schema } } };
}

/** A store on the KurrentDB server at KURRENTDB_URL; streams are unique per run, nothing is deleted. */
export async function kurrentFixture(url: string): Promise<EventStoreFixture> {
  const open = async () => KurrentEventStore.open(url, testCatalogue(), { pollIntervalMs: 200 });
  return { ...tracked(await open(), open, async () => undefined), shared: { url } };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
