import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import type { EventCatalogue } from '../catalogue.js';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import { uuidv7 } from '../uuid7.js';
import { checkAppendRequest, checkDistinctIds, checkExpectedVersion, eventIdTaken, isAlreadyStored, toEnvelope } from './append-rules.js';
import type { AppendOptions, AppendResult, EventStore, ReadAllOptions, ReadStreamOptions, SubscribeAllOptions, Subscription } from './event-store.js';
import { LogSubscriptions } from './polling-subscription.js';
import type { AppendOutcome, PendingAppend } from './pending-append.js';
import { SqliteCheckpointStore, SqliteProjectionStateStore } from './sqlite-consumer-state.js';
import { sqliteFailure } from './sqlite-failure.js';

export interface SqliteEventStoreOptions {
  /** How often a subscription looks for events appended by other processes. Default 100 ms. */
  pollIntervalMs?: number;
  /**
   * `full` (default): every commit is fsynced before `append` resolves — durable across power loss.
   * `normal`: WAL commits are fsynced only at checkpoints — survives a process crash, may lose the last
   * commits on power loss or an OS crash. Never corrupts the file either way.
   */
  synchronous?: 'full' | 'normal';
  /** How long a writer waits for another process holding the write lock before failing. Default 10 s. */
  busyTimeoutMs?: number;
}

// Version 1 of the on-disk layout. `position` is the rowid: SQLite assigns max(rowid)+1 under the single write
// lock, so positions follow commit order and a rolled-back append leaves no gap.
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS events (
  position       INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  stream         TEXT    NOT NULL,
  version        INTEGER NOT NULL,
  type           TEXT    NOT NULL,
  schema_version INTEGER NOT NULL,
  occurred_at    TEXT    NOT NULL,
  correlation_id TEXT    NOT NULL,
  causation_id   TEXT,
  actor          TEXT    NOT NULL,
  data           TEXT    NOT NULL,
  UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  name       TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projection_states (
  name       TEXT PRIMARY KEY,
  state      TEXT NOT NULL,
  position   INTEGER NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;
`;

type Row = [
  position: number,
  id: string,
  stream: string,
  version: number,
  type: string,
  schema_version: number,
  occurred_at: string,
  correlation_id: string,
  causation_id: string | null,
  actor: string,
  data: string,
];

const COLUMNS = 'position, id, stream, version, type, schema_version, occurred_at, correlation_id, causation_id, actor, data';

/**
 * The embedded default event store: one SQLite file in WAL mode, safe for several processes on one host.
 *
 * Appends made concurrently in one process are group-committed: they are queued, then written in a single
 * `BEGIN IMMEDIATE` transaction (each inside its own savepoint, so one append's conflict does not undo the
 * others) and settled after one commit — one fsync for the whole group. Every append is still checked and
 * applied on its own terms; only the fsync is shared.
 */
export class SqliteEventStore implements EventStore {
  readonly adapter = 'sqlite';
  readonly checkpoints: SqliteCheckpointStore;
  readonly projections: SqliteProjectionStateStore;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly subscriptions = new LogSubscriptions();
  private readonly stmt;
  private readonly commitGroup;
  private readonly applyInSavepoint;

  private constructor(
    private readonly db: Database.Database,
    private readonly catalogue: EventCatalogue,
    readonly path: string,
    readonly synchronous: 'full' | 'normal',
    private readonly pollIntervalMs: number,
  ) {
    this.stmt = {
      streamHead: db.prepare<[string], [number, number]>('SELECT version, position FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1').raw(),
      streamOfId: db.prepare<[string], string>('SELECT stream FROM events WHERE id = ?').pluck(),
      insert: db.prepare(
        'INSERT INTO events (id, stream, version, type, schema_version, occurred_at, correlation_id, causation_id, actor, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      forward: db.prepare<[string, number, number], Row>(`SELECT ${COLUMNS} FROM events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`).raw(),
      backward: db
        .prepare<[string, number, number], Row>(`SELECT ${COLUMNS} FROM events WHERE stream = ? AND version <= ? ORDER BY version DESC LIMIT ?`)
        .raw(),
      all: db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
      head: db.prepare<[], number>('SELECT coalesce(max(position), 0) FROM events').pluck(),
      ping: db.prepare('SELECT 1').pluck(),
    };
    this.applyInSavepoint = db.transaction((p: PendingAppend) => this.apply(p));
    this.commitGroup = db.transaction((group: PendingAppend[]) => {
      const outcomes: AppendOutcome[] = [];
      for (const p of group) {
        try {
          outcomes.push({ ok: true, result: this.applyInSavepoint(p) });
        } catch (error) {
          // A rule violation fails only its own append; a storage failure fails the whole group.
          if (!isPowernodeError(error)) throw error;
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    });
    this.checkpoints = new SqliteCheckpointStore(db, () => this.assertOpen());
    this.projections = new SqliteProjectionStateStore(db, () => this.assertOpen());
  }

  /** Opens (creating if needed) the store file; several processes may open the same file. */
  static open(path: string, catalogue: EventCatalogue, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    const synchronous = options.synchronous ?? 'full';
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      const migrate = db.transaction(() => {
        db!.exec(SCHEMA_V1);
        db!.pragma('user_version = 1');
      });
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > 1) throw new Error(`the file has layout version ${version}, this build knows version 1: upgrade Powernode`);
      if (version < 1) migrate.immediate();
    } catch (cause) {
      db?.close();
      throw new PowernodeError(
        'store_unavailable',
        `cannot open the SQLite event store at ${path}: ${(cause as Error).message}: check that the directory is writable and the file is a Powernode store`,
        {
          details: { path },
          cause,
        },
      );
    }
    return new SqliteEventStore(db, catalogue, path, synchronous, options.pollIntervalMs ?? 100);
  }

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    checkAppendRequest(stream, options.expected);
    const validated = events.map((e) => this.catalogue.validate(e));
    checkDistinctIds(validated);
    if (validated.length === 0) {
      const [version] = this.read(() => this.stmt.streamHead.get(stream)) ?? [0, 0];
      checkExpectedVersion(stream, options.expected, version);
      return { next_expected_version: version, position: this.read(() => this.stmt.head.get()!), events: [] };
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ stream, events: validated, expected: options.expected, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const limit = options.limit ?? -1;
    const rows =
      options.direction === 'backward'
        ? this.read(() => this.stmt.backward.all(stream, options.from_version ?? Number.MAX_SAFE_INTEGER, limit))
        : this.read(() => this.stmt.forward.all(stream, options.from_version ?? 1, limit));
    return rows.map(toEnvelopeFromRow);
  }

  async streamVersion(stream: string): Promise<number> {
    this.assertOpen();
    return this.read(() => this.stmt.streamHead.get(stream))?.[0] ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    return this.read(() => this.stmt.all.all(options.after_position ?? 0, options.limit ?? -1)).map(toEnvelopeFromRow);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.read(() => this.stmt.head.get()!);
  }

  subscribeAll(options: SubscribeAllOptions): Subscription {
    this.assertOpen();
    return this.subscriptions.subscribe((o) => this.readAll(o), options, this.pollIntervalMs);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    this.read(() => this.stmt.ping.get());
  }

  /** Stops subscriptions, commits appends still queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.subscriptions.stopAll();
    this.flush();
    this.closed = true;
    this.subscriptions.clear();
    this.db.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.commitGroup.immediate(group);
    } catch (cause) {
      const error = sqliteFailure('append', cause);
      for (const p of group) p.reject(error);
      return;
    }
    let wrote = false;
    outcomes.forEach((o, i) => {
      if (o.ok) {
        wrote ||= o.result.events.length > 0;
        group[i]!.resolve(o.result);
      } else {
        group[i]!.reject(o.error);
      }
    });
    if (wrote) this.subscriptions.appended();
  }

  // Runs inside the group transaction, under the write lock: what it reads cannot change before the commit.
  private apply(p: PendingAppend): AppendResult {
    const [current, lastPosition] = this.stmt.streamHead.get(p.stream) ?? [0, 0];
    const storedStreamOf = (id: string) => this.stmt.streamOfId.get(id);
    if (isAlreadyStored(p.stream, p.events, storedStreamOf)) {
      return { next_expected_version: current, position: lastPosition, events: [] };
    }
    checkExpectedVersion(p.stream, p.expected, current);
    const now = new Date().toISOString();
    const stored = p.events.map((e, i) => toEnvelope(e, { id: e.id ?? uuidv7(), stream: p.stream, version: current + i + 1, position: 0 }, now));
    for (const e of stored) {
      try {
        const info = this.stmt.insert.run(
          e.id,
          e.stream,
          e.version,
          e.type,
          e.schema_version,
          e.occurred_at,
          e.correlation_id,
          e.causation_id,
          e.actor,
          JSON.stringify(e.data),
        );
        e.position = Number(info.lastInsertRowid);
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if (code === 'SQLITE_CONSTRAINT_UNIQUE' && /events\.id/.test((cause as Error).message)) throw eventIdTaken(e.id, storedStreamOf(e.id), cause);
        throw cause;
      }
    }
    return { next_expected_version: current + stored.length, position: stored[stored.length - 1]!.position, events: stored };
  }

  private read<T>(query: () => T): T {
    try {
      return query();
    } catch (cause) {
      throw sqliteFailure('read', cause);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new PowernodeError('store_unavailable', `the SQLite event store at ${this.path} is closed: open it again`, { retryable: false });
  }
}

function toEnvelopeFromRow(r: Row): EventEnvelope {
  return {
    id: r[1],
    stream: r[2],
    type: r[4],
    version: r[3],
    position: r[0],
    occurred_at: r[6],
    correlation_id: r[7],
    causation_id: r[8],
    actor: r[9],
    schema_version: r[5],
    data: JSON.parse(r[10]) as unknown,
  };
}
