import Database from 'better-sqlite3';
import { PowernodeError } from '@powernode/contracts';
import type { ProcessedLedger } from './processed-ledger.js';

/**
 * Ledger in a SQLite file (WAL, safe to share with other processes and with the SQLite event store's file).
 * Rows are `(consumer, event_id)`; recording an id twice is a no-op.
 */
export class SqliteProcessedLedger implements ProcessedLedger {
  private readonly hasStmt: Database.Statement<[string, string], { one: number }>;
  private readonly addStmt: Database.Statement<[string, string, string]>;

  private constructor(
    private readonly db: Database.Database,
    private readonly ownsDb: boolean,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS bus_processed_events (
      consumer TEXT NOT NULL,
      event_id TEXT NOT NULL,
      processed_at TEXT NOT NULL,
      PRIMARY KEY (consumer, event_id)
    ) WITHOUT ROWID`);
    this.hasStmt = db.prepare('SELECT 1 AS one FROM bus_processed_events WHERE consumer = ? AND event_id = ?');
    this.addStmt = db.prepare('INSERT OR IGNORE INTO bus_processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)');
  }

  /** Opens (creating if needed) the ledger table in the SQLite file at `path`. */
  static open(path: string): SqliteProcessedLedger {
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      // NORMAL may forget the last few ids on a power cut: handlers are idempotent, so that costs a re-run.
      db.pragma('synchronous = NORMAL');
    } catch (cause) {
      throw new PowernodeError(
        'store_unavailable',
        `cannot open the processed-events ledger at ${path}: ${(cause as Error).message}; check the path and its permissions`,
        {
          cause,
          details: { path },
        },
      );
    }
    return new SqliteProcessedLedger(db, true);
  }

  /** Uses an already open database connection (the caller keeps ownership and closes it). */
  static using(db: Database.Database): SqliteProcessedLedger {
    return new SqliteProcessedLedger(db, false);
  }

  async has(consumer: string, eventId: string): Promise<boolean> {
    return this.hasStmt.get(consumer, eventId) !== undefined;
  }

  async add(consumer: string, eventId: string): Promise<void> {
    this.addStmt.run(consumer, eventId, new Date().toISOString());
  }

  /** Closes the connection when the ledger opened it. */
  close(): void {
    if (this.ownsDb) this.db.close();
  }
}
