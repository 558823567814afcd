import pg from 'pg';
import { PowernodeError } from '@powernode/contracts';
import type { EventCatalogue } from '../catalogue.js';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import { uuidv7 } from '../uuid7.js';
import { checkAppendRequest, checkDistinctIds, checkExpectedVersion, eventIdTaken, toEnvelope } from './append-rules.js';
import type { AppendOptions, AppendResult, EventStore, ReadAllOptions, ReadStreamOptions, SubscribeAllOptions, Subscription } from './event-store.js';
import { LogSubscriptions } from './polling-subscription.js';
import type { AppendOutcome, PendingAppend } from './pending-append.js';
import { PostgresCheckpointStore, PostgresProjectionStateStore } from './postgres-consumer-state.js';
import { postgresFailure } from './postgres-failure.js';
import { type PostgresLayout, postgresLayout, postgresSchemaDdl } from './postgres-schema.js';

export interface PostgresEventStoreOptions {
  /** Schema holding the tables; created when missing. Default `powernode`. */
  schema?: string;
  /** Fallback poll interval of subscriptions (LISTEN/NOTIFY wakes them sooner). Default 500 ms. */
  pollIntervalMs?: number;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
}

interface EventRow {
  position: string;
  id: string;
  stream: string;
  version: number;
  type: string;
  schema_version: number;
  occurred_at: string;
  correlation_id: string;
  causation_id: string | null;
  actor: string;
  data: unknown;
}

const COLUMNS = 'position, id, stream, version, type, schema_version, occurred_at, correlation_id, causation_id, actor, data';
// Bounds one group transaction so a burst of appenders cannot build an unbounded commit.
const MAX_GROUP_APPENDS = 256;
const MAX_GROUP_EVENTS = 5000;

/**
 * Event store on PostgreSQL. Every append runs one of the schema's functions (`append_to_stream` for a lone
 * append, `append_group` for several), which first takes a transaction-level advisory lock (one per schema),
 * then assigns positions `max(position)+1…`: appends are serialised, so positions are gapless and follow commit
 * order, and a subscriber reading `position > n` can never skip an event that commits late.
 *
 * Either way an append is one round trip: a single prepared call whose implicit transaction commits before
 * the verdict comes back. Appends made concurrently in one process are group-committed: while one call is in
 * flight, the next appends queue up and go together in the following call, each judged on its own by the
 * function, so the round trip, the lock and the WAL flush are paid once per group. Subscribers are woken by
 * LISTEN/NOTIFY and poll as a fallback.
 */
export class PostgresEventStore implements EventStore {
  readonly adapter = 'postgres';
  readonly checkpoints: PostgresCheckpointStore;
  readonly projections: PostgresProjectionStateStore;
  private queue: PendingAppend[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly subscriptions = new LogSubscriptions();
  private listener: pg.Client | undefined;
  private listenerRetry: NodeJS.Timeout | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly layout: PostgresLayout,
    private readonly catalogue: EventCatalogue,
    private readonly pollIntervalMs: number,
  ) {
    this.checkpoints = new PostgresCheckpointStore(pool, layout);
    this.projections = new PostgresProjectionStateStore(pool, layout);
  }

  /** Connects and creates the schema and tables when missing (serialised, so several processes may start at once). */
  static async open(url: string, catalogue: EventCatalogue, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    const layout = postgresLayout(options.schema ?? 'powernode');
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000 });
    // An idle pooled connection that dies (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${layout.migrateLock[0]}, ${layout.migrateLock[1]}); ${postgresSchemaDdl(layout)} COMMIT;`);
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw cause;
      } finally {
        client.release();
      }
    } catch (cause) {
      await pool.end().catch(() => undefined);
      throw new PowernodeError(
        'store_unavailable',
        `cannot open the PostgreSQL event store at ${redactUrl(url)} (schema ${layout.schema}): ${(cause as Error).message}: check EVENT_STORE_URL, that the server runs and the user may create the schema`,
        {
          details: { schema: layout.schema, code: (cause as { code?: string }).code },
          cause,
        },
      );
    }
    return new PostgresEventStore(pool, url, layout, catalogue, options.pollIntervalMs ?? 500);
  }

  /** The schema holding this store's tables. */
  get schema(): string {
    return this.layout.schema;
  }

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    checkAppendRequest(stream, options.expected);
    const validated = events.map((e) => this.catalogue.validate(e));
    checkDistinctIds(validated);
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ stream, events: validated, expected: options.expected, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const backward = options.direction === 'backward';
    const sql = backward
      ? `SELECT ${COLUMNS} FROM ${this.layout.q}events WHERE stream = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`
      : `SELECT ${COLUMNS} FROM ${this.layout.q}events WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`;
    const from = options.from_version ?? (backward ? 2 ** 31 - 1 : 1);
    return (await this.query<EventRow>('stream read', sql, [stream, from, options.limit ?? null])).map(toEnvelopeFromRow);
  }

  async streamVersion(stream: string): Promise<number> {
    this.assertOpen();
    const rows = await this.query<{ version: number }>('stream version read', `SELECT max(version) AS version FROM ${this.layout.q}events WHERE stream = $1`, [
      stream,
    ]);
    return rows[0]?.version ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const rows = await this.query<EventRow>('global log read', `SELECT ${COLUMNS} FROM ${this.layout.q}events WHERE position > $1 ORDER BY position LIMIT $2`, [
      options.after_position ?? 0,
      options.limit ?? null,
    ]);
    return rows.map(toEnvelopeFromRow);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    const rows = await this.query<{ head: string }>('head read', `SELECT coalesce(max(position), 0) AS head FROM ${this.layout.q}events`, []);
    return Number(rows[0]!.head);
  }

  subscribeAll(options: SubscribeAllOptions): Subscription {
    this.assertOpen();
    this.startListener();
    return this.subscriptions.subscribe((o) => this.readAll(o), options, this.pollIntervalMs);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.query('ping', 'SELECT 1', []);
  }

  /** Stops subscriptions, lets queued appends commit, then closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.subscriptions.stopAll();
    await this.draining;
    this.closed = true;
    clearTimeout(this.listenerRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    this.subscriptions.clear();
    await this.pool.end();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        let take = 0;
        for (let events = 0; take < this.queue.length && take < MAX_GROUP_APPENDS && (take === 0 || events < MAX_GROUP_EVENTS); take++) {
          events += this.queue[take]!.events.length;
        }
        await this.commitGroup(this.queue.splice(0, take));
      }
    } finally {
      this.draining = undefined;
    }
  }

  // One statement per group: the append_group function takes the lock, judges and writes every append, and the
  // implicit transaction commits them together (one WAL flush) before the outcomes come back.
  private async commitGroup(group: PendingAppend[]): Promise<void> {
    if (group.length === 1) return this.commitAlone(group[0]!);
    const now = new Date().toISOString();
    const prepared = group.map((p) => ({
      pending: p,
      envelopes: p.events.map((e) => toEnvelope(e, { id: e.id ?? uuidv7(), stream: p.stream, version: 0, position: 0 }, now)),
    }));
    const data: string[] = [];
    const payload = prepared.map(({ pending, envelopes }) => {
      // 1-based index of this append's first event in the json[] of data.
      const firstData = data.length + 1;
      for (const e of envelopes) data.push(JSON.stringify(e.data));
      return {
        stream: pending.stream,
        first_data: firstData,
        expected: String(pending.expected),
        supplied: pending.events.flatMap((e) => (e.id === undefined ? [] : [e.id])),
        events: envelopes.map((e) => ({
          id: e.id,
          type: e.type,
          schema_version: e.schema_version,
          occurred_at: e.occurred_at,
          correlation_id: e.correlation_id,
          causation_id: e.causation_id,
          actor: e.actor,
        })),
      };
    });
    let rows: OutcomeRow[];
    try {
      const [a, b] = this.layout.appendLock;
      rows = (
        await this.pool.query<OutcomeRow>(`SELECT * FROM ${this.layout.q}append_group($1::json, $2::json[], $3, $4, $5)`, [
          JSON.stringify(payload),
          data,
          a,
          b,
          this.layout.channel,
        ])
      ).rows;
    } catch (cause) {
      const unstorable = unstorableText(cause);
      if (unstorable !== undefined && group.length > 1) {
        // One append's text failed the whole statement: retry each alone so only the culprit fails.
        for (const p of group) await this.commitGroup([p]);
        return;
      }
      const error = unstorable ?? postgresFailure('append', cause);
      for (const p of group) p.reject(error);
      return;
    }
    let wrote = false;
    prepared.forEach(({ pending, envelopes }, i) => {
      const row = rows.find((r) => r.idx === i);
      if (row === undefined) {
        pending.reject(
          new PowernodeError(
            'internal',
            `the append_group function returned no outcome for the append to ${pending.stream}: the schema's function is out of date, restart to recreate it`,
          ),
        );
        return;
      }
      const outcome = settle(pending, envelopes, row);
      if (outcome.ok) {
        wrote ||= outcome.result.events.length > 0;
        pending.resolve(outcome.result);
      } else {
        pending.reject(outcome.error);
      }
    });
    if (wrote) this.wake();
  }

  // A lone append skips the group document: its events go as parallel arrays to append_to_stream, through a
  // statement each pooled connection prepares once.
  private async commitAlone(pending: PendingAppend): Promise<void> {
    const now = new Date().toISOString();
    const envelopes = pending.events.map((e) => toEnvelope(e, { id: e.id ?? uuidv7(), stream: pending.stream, version: 0, position: 0 }, now));
    const [a, b] = this.layout.appendLock;
    let verdict: AppendVerdict;
    try {
      const result = await this.pool.query<AppendVerdict>({
        name: 'powernode_append_to_stream',
        text: `SELECT * FROM ${this.layout.q}append_to_stream($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        values: [
          pending.stream,
          pending.expected === 'any' ? null : pending.expected === 'no_stream' ? 0 : pending.expected,
          pending.events.flatMap((e) => (e.id === undefined ? [] : [e.id])),
          envelopes.map((e) => e.id),
          envelopes.map((e) => e.type),
          envelopes.map((e) => e.schema_version),
          envelopes.map((e) => e.occurred_at),
          envelopes.map((e) => e.correlation_id),
          envelopes.map((e) => e.causation_id),
          envelopes.map((e) => e.actor),
          envelopes.map((e) => JSON.stringify(e.data)),
          a,
          b,
          this.layout.channel,
        ],
      });
      verdict = result.rows[0]!;
    } catch (cause) {
      pending.reject(unstorableText(cause) ?? uniqueViolation(pending, cause) ?? postgresFailure('append', cause));
      return;
    }
    const outcome = settle(pending, envelopes, verdict);
    if (outcome.ok) {
      pending.resolve(outcome.result);
      if (outcome.result.events.length > 0) this.wake();
    } else {
      pending.reject(outcome.error);
    }
  }

  private async query<T extends pg.QueryResultRow>(operation: string, sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (cause) {
      throw postgresFailure(operation, cause);
    }
  }

  private wake(): void {
    this.subscriptions.appended();
  }

  // A dedicated connection LISTENs for appends made by any process; when it is lost, subscribers keep polling
  // and the connection is re-established.
  private startListener(): void {
    if (this.listener !== undefined || this.listenerRetry !== undefined || this.closed) return;
    const client = new pg.Client({ connectionString: this.url });
    this.listener = client;
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.listenerRetry = setTimeout(() => {
        this.listenerRetry = undefined;
        if (this.subscriptions.size > 0) this.startListener();
      }, 1000);
      this.listenerRetry.unref();
    };
    client.on('notification', () => this.wake());
    client.on('error', lost);
    client.on('end', lost);
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.layout.channel}"`))
      // Appends that committed while we were connecting are picked up by waking everyone once.
      .then(() => this.wake(), lost);
  }

  private assertOpen(): void {
    if (this.closed)
      throw new PowernodeError('store_unavailable', `the PostgreSQL event store (schema ${this.layout.schema}) is closed: open it again`, { retryable: false });
  }
}

function toEnvelopeFromRow(r: EventRow): EventEnvelope {
  return {
    id: r.id,
    stream: r.stream,
    type: r.type,
    version: r.version,
    position: Number(r.position),
    occurred_at: r.occurred_at,
    correlation_id: r.correlation_id,
    causation_id: r.causation_id,
    actor: r.actor,
    schema_version: r.schema_version,
    data: r.data,
  };
}

/** What the append functions answer for one append: `last_position` is the stream's last on a no-op. */
interface AppendVerdict {
  outcome: 'ok' | 'noop' | 'conflict' | 'id_taken';
  stream_version: number;
  last_position: string | null;
  taken_id: string | null;
  taken_stream: string | null;
}

/** What the append_group function answers for one append of the group. */
interface OutcomeRow extends AppendVerdict {
  idx: number;
}

/** Turns the server's verdict on one append into its result or its error. */
function settle(p: PendingAppend, envelopes: EventEnvelope[], row: AppendVerdict): AppendOutcome {
  switch (row.outcome) {
    case 'ok': {
      const first = Number(row.last_position) - envelopes.length + 1;
      const base = row.stream_version - envelopes.length;
      envelopes.forEach((e, i) => {
        e.version = base + i + 1;
        e.position = first + i;
      });
      return { ok: true, result: { next_expected_version: row.stream_version, position: Number(row.last_position), events: envelopes } };
    }
    case 'noop':
      return { ok: true, result: { next_expected_version: row.stream_version, position: Number(row.last_position), events: [] } };
    case 'conflict':
      try {
        checkExpectedVersion(p.stream, p.expected, row.stream_version);
      } catch (error) {
        return { ok: false, error };
      }
      // The version read agreed with the writer, yet the insert hit the unique (stream, version) constraint:
      // another writer got in without the lock (an older build, a manual insert).
      return {
        ok: false,
        error: new PowernodeError(
          'concurrency_conflict',
          `stream ${p.stream} was appended to concurrently (the append expected ${String(p.expected)}): reload the stream and retry`,
          {
            details: { stream: p.stream, expected: p.expected, actual: row.stream_version },
          },
        ),
      };
    case 'id_taken':
      return { ok: false, error: eventIdTaken(row.taken_id ?? 'unknown', row.taken_stream ?? undefined) };
    default: {
      const unexpected: never = row.outcome;
      return { ok: false, error: new PowernodeError('internal', `unknown append outcome ${String(unexpected)}`) };
    }
  }
}

/**
 * The insert of a lone append hit a unique constraint: another writer got in without the schema's lock (an
 * older build, a manual insert). Its event id is taken, or its stream moved on; either way nothing was written.
 */
function uniqueViolation(p: PendingAppend, cause: unknown): PowernodeError | undefined {
  const error = cause as { code?: string; constraint?: string; detail?: string };
  if (error.code !== '23505') return undefined;
  if (error.constraint === 'events_id_key') return eventIdTaken(/\(id\)=\((.*)\)/.exec(error.detail ?? '')?.[1] ?? 'unknown', undefined, cause);
  return new PowernodeError(
    'concurrency_conflict',
    `stream ${p.stream} was appended to concurrently (the append expected ${String(p.expected)}): reload the stream and retry`,
    {
      cause,
      details: { stream: p.stream, expected: p.expected },
    },
  );
}

/** PostgreSQL text cannot hold U+0000 or invalid UTF-8: such an event is refused, not retried forever. */
function unstorableText(cause: unknown): PowernodeError | undefined {
  const code = (cause as { code?: string }).code;
  if (code !== '22P05' && code !== '22021') return undefined;
  return new PowernodeError(
    'invalid_event',
    `PostgreSQL cannot store this append (${(cause as Error).message}): stream names, ids, types and provenance fields must not contain U+0000`,
    {
      cause,
    },
  );
}

/** The URL without its password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
