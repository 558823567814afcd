import { randomUUID } from 'node:crypto';
import type * as Kurrent from '@kurrent/kurrentdb-client';
import type {
  AllStreamSubscription,
  AppendStreamState,
  JSONType,
  KurrentDBClient,
  ReadPosition,
  RecordedEvent,
  ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import type { EventCatalogue } from '../catalogue.js';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import { uuidv7 } from '../uuid7.js';
import { checkAppendRequest, checkDistinctIds, checkExpectedVersion, isAlreadyStored } from './append-rules.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedVersion,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeAllOptions,
  Subscription,
} from './event-store.js';
import { KurrentCheckpointStore, KurrentProjectionStateStore, INTERNAL_STREAM_PREFIX } from './kurrent-consumer-state.js';
import { isMissingStream, kurrentFailure } from './kurrent-failure.js';
import { LogSubscriptions } from './polling-subscription.js';

export interface KurrentEventStoreOptions {
  /** How often a subscription polls $all when the live wake-up subscription is down. Default 500 ms. */
  pollIntervalMs?: number;
}

/** Envelope fields KurrentDB has no place for, kept in each event's metadata (string values only). */
interface EnvelopeMetadata {
  $correlationId: string;
  $causationId: string;
  occurred_at: string;
  correlation_id: string;
  causation_id: string;
  actor: string;
  schema_version: string;
  /** Random per append call: tells the events we wrote from ones KurrentDB kept from an earlier identical append. */
  append_nonce: string;
}

/** The client library, loaded on first use: it is heavy (gRPC, a native bridge) and most processes never need it. */
export type KurrentClientModule = typeof Kurrent;

// The client's direction/position/state constants are these plain strings; spelling them here lets this module
// load without the client library.
const ANY = 'any';
const NO_STREAM = 'no_stream';
const START = 'start';
const END = 'end';
const FORWARDS = 'forwards';
const BACKWARDS = 'backwards';

/**
 * Event store on KurrentDB (formerly EventStoreDB). How the port maps, and where it differs:
 *
 * - `version` = KurrentDB stream revision + 1; expected versions map to `NO_STREAM`, `ANY` or a revision.
 * - `position` = the event's commit position in `$all`: strictly increasing in commit order but NOT gapless
 *   (it is a byte offset in the server's log) — treat it as an opaque monotonic number, never count with it.
 *   `$all` excludes system streams and this adapter's own checkpoint/projection streams.
 * - Idempotency: an append whose events all carry ids already stored on the stream is a no-op (checked by
 *   scanning the stream, so it costs a read of the stream). Event ids are NOT unique across streams here:
 *   KurrentDB does not index them, so the same id on two streams is accepted.
 * - Envelope fields other than id/type/data live in the event metadata; `occurred_at` is the writer's time,
 *   not KurrentDB's `created`.
 * - Every append reads its events back to return their positions: one extra round trip per append.
 */
export class KurrentEventStore implements EventStore {
  readonly adapter = 'kurrentdb';
  readonly checkpoints: KurrentCheckpointStore;
  readonly projections: KurrentProjectionStateStore;
  private closed = false;
  private readonly subscriptions = new LogSubscriptions();
  private live: AllStreamSubscription | undefined;

  private constructor(
    private readonly kurrent: KurrentClientModule,
    private readonly client: KurrentDBClient,
    private readonly catalogue: EventCatalogue,
    private readonly pollIntervalMs: number,
  ) {
    this.checkpoints = new KurrentCheckpointStore(kurrent, client);
    this.projections = new KurrentProjectionStateStore(kurrent, client);
  }

  /** Creates the client (connections are made lazily, on the first call). Accepts kurrentdb://, kdb://, esdb://. */
  static async open(url: string, catalogue: EventCatalogue, options: KurrentEventStoreOptions = {}): Promise<KurrentEventStore> {
    const kurrent: KurrentClientModule = await import('@kurrent/kurrentdb-client');
    let client: KurrentDBClient;
    try {
      client = kurrent.KurrentDBClient.connectionString(url.replace(/^esdb(\+discover)?:\/\//, 'kurrentdb$1://'));
    } catch (cause) {
      throw new PowernodeError(
        'config_invalid',
        `KurrentDB connection string is not valid: ${(cause as Error).message}: use kurrentdb://host:2113?tls=false (see EVENT_STORE_URL)`,
        {
          details: { field: 'EVENT_STORE_URL' },
          cause,
        },
      );
    }
    return new KurrentEventStore(kurrent, client, catalogue, options.pollIntervalMs ?? 500);
  }

  async append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    checkAppendRequest(stream, options.expected);
    if (stream.startsWith('$') || stream.startsWith(INTERNAL_STREAM_PREFIX)) {
      throw new PowernodeError(
        'validation_failed',
        `stream name ${stream} is reserved in KurrentDB (system or ${INTERNAL_STREAM_PREFIX}… streams): choose another name`,
        {
          details: { field: 'stream' },
        },
      );
    }
    const validated = events.map((e) => this.catalogue.validate(e));
    checkDistinctIds(validated);
    try {
      if (validated.length > 0 && validated.every((e) => e.id !== undefined)) {
        const storedIds = await this.streamIds(stream);
        const current = storedIds.length;
        if (isAlreadyStored(stream, validated, (id) => (storedIds.includes(id) ? stream : undefined))) {
          return { next_expected_version: current, position: current === 0 ? 0 : ((await this.lastPosition(stream)) ?? 0), events: [] };
        }
        checkExpectedVersion(stream, options.expected, current);
        const taken = validated.find((e) => storedIds.includes(e.id!));
        if (taken !== undefined) {
          throw new PowernodeError(
            'conflict',
            `event id ${taken.id} is already stored in stream ${stream}: mint a new id or re-append the whole original batch`,
            {
              details: { id: taken.id, stream },
            },
          );
        }
      }
      if (validated.length === 0) {
        const current = await this.streamVersion(stream);
        checkExpectedVersion(stream, options.expected, current);
        return { next_expected_version: current, position: await this.headPosition(), events: [] };
      }
      const nonce = randomUUID();
      const written = await this.client.appendToStream(
        stream,
        validated.map((e) =>
          this.kurrent.jsonEvent({
            id: e.id ?? uuidv7(),
            type: e.type,
            data: e.data as JSONType,
            metadata: toMetadata(e, nonce),
          }),
        ),
        { streamState: toStreamState(options.expected) },
      );
      const next = Number(written.nextExpectedRevision) + 1;
      const readBack = await this.readStreamRecords(stream, { from_version: next - validated.length + 1, limit: validated.length });
      const events = readBack.map((r) => r.envelope);
      if (readBack.length === 0 || readBack.some((r) => r.nonce !== nonce)) {
        // KurrentDB recognised the ids of an earlier identical append and wrote nothing.
        return { next_expected_version: next, position: events[events.length - 1]?.position ?? 0, events: [] };
      }
      this.subscriptions.appended();
      return { next_expected_version: next, position: events[events.length - 1]!.position, events };
    } catch (cause) {
      if (isPowernodeError(cause)) throw cause;
      const wrong = cause as { type?: string; actualState?: unknown };
      if (wrong.type === 'wrong-expected-version') {
        const actual = typeof wrong.actualState === 'bigint' ? Number(wrong.actualState) + 1 : 0;
        throw new PowernodeError(
          'concurrency_conflict',
          `stream ${stream} is at version ${actual}, the append expected ${String(options.expected)}: reload the stream and retry`,
          {
            details: { stream, expected: options.expected, actual },
            cause,
          },
        );
      }
      throw kurrentFailure('append', cause);
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    return (await this.readStreamRecords(stream, options)).map((r) => r.envelope);
  }

  async streamVersion(stream: string): Promise<number> {
    return (await this.readStream(stream, { direction: 'backward', limit: 1 }))[0]?.version ?? 0;
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const after = options.after_position ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (limit === 0) return [];
    const fromPosition: ReadPosition = after === 0 ? START : { commit: BigInt(after), prepare: BigInt(after) };
    const out: EventEnvelope[] = [];
    try {
      // The read starts AT `after` (inclusive): ask for one more and drop what is not strictly after it.
      for await (const resolved of this.client.readAll({ fromPosition, maxCount: Math.min(limit + 1, Number.MAX_SAFE_INTEGER), filter: this.userEvents() })) {
        const e = toStoredRecord(resolved)?.envelope;
        if (e === undefined || e.position <= after) continue;
        out.push(e);
        if (out.length === limit) break;
      }
    } catch (cause) {
      throw kurrentFailure('global log read', cause);
    }
    return out;
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    try {
      for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter: this.userEvents() })) {
        return toStoredRecord(resolved)?.envelope.position ?? 0;
      }
    } catch (cause) {
      throw kurrentFailure('head read', cause);
    }
    return 0;
  }

  subscribeAll(options: SubscribeAllOptions): Subscription {
    this.assertOpen();
    this.startLiveWakeUp();
    return this.subscriptions.subscribe((o) => this.readAll(o), options, this.pollIntervalMs);
  }

  async ping(): Promise<void> {
    await this.headPosition();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.subscriptions.stopAll();
    this.closed = true;
    const live = this.live;
    this.live = undefined;
    await live?.unsubscribe().catch(() => undefined);
    this.subscriptions.clear();
    await this.client.dispose();
  }

  private async readStreamRecords(stream: string, options: ReadStreamOptions = {}): Promise<StoredRecord[]> {
    this.assertOpen();
    const backward = options.direction === 'backward';
    if (options.limit === 0) return [];
    const out: StoredRecord[] = [];
    try {
      const iterator = this.client.readStream(stream, {
        direction: backward ? BACKWARDS : FORWARDS,
        fromRevision: options.from_version === undefined ? (backward ? END : START) : BigInt(Math.max(options.from_version, 1) - 1),
        maxCount: options.limit ?? Number.MAX_SAFE_INTEGER,
      });
      for await (const resolved of iterator) {
        const r = toStoredRecord(resolved);
        if (r !== undefined) out.push(r);
      }
    } catch (cause) {
      if (isMissingStream(cause)) return [];
      throw kurrentFailure('stream read', cause);
    }
    return out;
  }

  private async streamIds(stream: string): Promise<string[]> {
    return (await this.readStream(stream)).map((e) => e.id);
  }

  private async lastPosition(stream: string): Promise<number | undefined> {
    return (await this.readStream(stream, { direction: 'backward', limit: 1 }))[0]?.position;
  }

  // A server subscription to $all used only as a wake-up: events are still read through readAll, in order.
  private startLiveWakeUp(): void {
    if (this.live !== undefined || this.closed) return;
    const live = this.client.subscribeToAll({ fromPosition: END, filter: this.userEvents() });
    this.live = live;
    live.on('data', () => {
      this.subscriptions.appended();
    });
    const lost = () => {
      if (this.live === live) this.live = undefined;
    };
    live.on('error', lost);
    live.on('end', lost);
    live.on('close', lost);
  }

  // User events only: system streams ($…) and our own checkpoint/projection streams stay out of the global log.
  private userEvents() {
    return this.kurrent.streamNameFilter({ regex: `^(?!\\$|${INTERNAL_STREAM_PREFIX})` });
  }

  private assertOpen(): void {
    if (this.closed) throw new PowernodeError('store_unavailable', 'the KurrentDB event store is closed: open it again', { retryable: false });
  }
}

/** A stored event and the nonce of the append call that wrote it. */
interface StoredRecord {
  envelope: EventEnvelope;
  nonce: string | undefined;
}

function toStreamState(expected: ExpectedVersion): AppendStreamState {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream' || expected === 0) return NO_STREAM;
  return BigInt(expected - 1);
}

function toMetadata(e: NewEvent & { schema_version: number }, nonce: string): EnvelopeMetadata & Record<string, string> {
  const occurred = e.occurred_at ?? new Date().toISOString();
  return {
    $correlationId: e.correlation_id ?? '',
    $causationId: e.causation_id ?? '',
    occurred_at: occurred,
    correlation_id: e.correlation_id ?? '',
    causation_id: e.causation_id ?? '',
    actor: e.actor ?? 'system',
    schema_version: String(e.schema_version),
    append_nonce: nonce,
  };
}

function toStoredRecord(resolved: ResolvedEvent): StoredRecord | undefined {
  const event = resolved.event as RecordedEvent | undefined;
  if (event === undefined) return undefined;
  const meta = (event.metadata ?? {}) as Partial<EnvelopeMetadata>;
  const position = event.position?.commit ?? resolved.commitPosition ?? 0n;
  const envelope: EventEnvelope = {
    id: event.id,
    stream: event.streamId,
    type: event.type,
    version: Number(event.revision) + 1,
    position: Number(position),
    occurred_at: meta.occurred_at ?? event.created.toISOString(),
    // An empty correlation id means "this event starts the chain": the port defines that as its own id.
    correlation_id: meta.correlation_id || event.id,
    causation_id: meta.causation_id || null,
    actor: meta.actor ?? 'system',
    schema_version: Number(meta.schema_version ?? 1),
    data: event.isJson ? event.data : (JSON.parse(Buffer.from(event.data as Uint8Array).toString('utf8')) as unknown),
  };
  return { envelope, nonce: meta.append_nonce };
}
