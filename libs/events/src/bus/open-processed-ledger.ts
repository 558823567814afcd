import type { SqliteProcessedLedger } from './sqlite-processed-ledger.js';

export type { SqliteProcessedLedger };

/**
 * Opens (creating if needed) the processed-events ledger in the SQLite file at `path`. The ledger's module,
 * and better-sqlite3 with it, is loaded on the first call, so a process that keeps no ledger never loads them.
 */
export async function openSqliteProcessedLedger(path: string): Promise<SqliteProcessedLedger> {
  return (await import('./sqlite-processed-ledger.js')).SqliteProcessedLedger.open(path);
}
