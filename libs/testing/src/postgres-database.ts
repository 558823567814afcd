import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server tests use (trust auth), as `PG_URL` names it. */
export const TEST_PG_URL = process.env['PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** The new database's URL, for `EVENT_STORE_URL`. */
  url: string;
  /** Drops it, closing whatever connections are left. */
  drop(): Promise<void>;
}

/** A database of its own on the test server, for a platform whose store no other test may share. */
export async function createTestDatabase(prefix: string, serverUrl: string = TEST_PG_URL): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
