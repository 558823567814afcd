import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { PowernodeError } from '@powernode/contracts';
import type { EventEnvelope } from '@powernode/event-core';
import type { CheckpointStore } from '../store/checkpoint-store.js';
import type { EventStore, Subscription } from '../store/event-store.js';
import { defaultBusLogger, type BusLogger } from './bus-logger.js';
import { encodeEvent, eventHeaders } from './event-message.js';
import { DEFAULT_EVENT_SUBJECT_PREFIX, eventSubject } from './event-subjects.js';
import { retryDelayMs, type BackoffPolicy } from './retry-delay.js';

export interface EventRelayOptions {
  store: EventStore;
  js: JetStreamClient;
  /** Where the published-up-to position is saved. Default: the store's own `checkpoints`. */
  checkpoints?: CheckpointStore;
  /** Checkpoint name. One relay per store and name. Default `relay`. */
  name?: string;
  /** Subject prefix; events go to `<prefix>.<stream category>.<type>`. Default `powernode.events`. */
  subject_prefix?: string;
  /** When set, every publish asserts it lands in this JetStream stream (a misrouted subject fails loudly). */
  expected_stream?: string;
  /** Events read from the store, and published, per batch. Default 500. */
  batch_size?: number;
  /** Publishes awaiting their JetStream ack at once. Default 256. */
  max_in_flight?: number;
  /** Per-publish ack timeout. Default 5000 ms. */
  publish_timeout_ms?: number;
  /**
   * Least time between two checkpoint writes. Each write is a durable commit; saving after every small batch
   * would spend the disk's fsync budget on bookkeeping. A crash republishes at most this much, and JetStream
   * drops the copies. Default 100 ms.
   */
  checkpoint_interval_ms?: number;
  /** Delay between publish retries while JetStream refuses. Default 100 ms doubling to 5 s. */
  retry?: Partial<BackoffPolicy>;
  logger?: BusLogger;
}

export interface EventRelayStats {
  /** Saved checkpoint: a restart resumes after this position. */
  checkpoint: number;
  /** Every event up to this position is acknowledged by JetStream (the checkpoint follows within the interval). */
  published_position: number;
  /** Publishes acknowledged as new messages since start. */
  published: number;
  /** Publishes JetStream dropped as already stored (republished after a crash before the checkpoint). */
  duplicates: number;
  /** The last publish or checkpoint failure, cleared by the next success; for /readyz. */
  last_error: string | null;
}

/**
 * Moves events from the store's global log to JetStream, in log order, from a saved checkpoint. Each event is
 * published with `Nats-Msg-Id = event.id`; the checkpoint only ever moves to a position whose events (and all
 * before it) JetStream acknowledged, so a crash can only cause a republish, which JetStream drops within its
 * duplicate window.
 *
 * Reading the log and publishing run as two loops joined by a bounded queue: the store subscription is never
 * held up by publish round trips (so it is always waiting when the next append signals), and a slow or
 * unavailable JetStream pushes back on reading instead of filling memory.
 */
export class EventRelay {
  private readonly name: string;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly maxUnsaved: number;
  private readonly publishTimeoutMs: number;
  private readonly checkpointIntervalMs: number;
  private readonly retry: BackoffPolicy;
  private readonly logger: BusLogger;
  private readonly checkpoints: CheckpointStore;
  private readonly counters: EventRelayStats = { checkpoint: 0, published_position: 0, published: 0, duplicates: 0, last_error: null };

  private subscription: Subscription | undefined;
  private publisher: Promise<void> | undefined;
  private queue: EventEnvelope[] = [];
  private draining = false;
  private publisherStopping = false;
  private stopped = false;
  private wakePublisher: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;
  private saving: Promise<void> | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private lastSaveAt = 0;
  private publishedWaiters: { position: number; resolve: () => void }[] = [];

  constructor(private readonly options: EventRelayOptions) {
    this.name = options.name ?? 'relay';
    this.prefix = options.subject_prefix ?? DEFAULT_EVENT_SUBJECT_PREFIX;
    this.batchSize = options.batch_size ?? 500;
    this.maxInFlight = options.max_in_flight ?? 256;
    this.maxQueued = 4 * this.batchSize;
    this.maxUnsaved = 10 * this.batchSize;
    this.publishTimeoutMs = options.publish_timeout_ms ?? 5000;
    this.checkpointIntervalMs = options.checkpoint_interval_ms ?? 100;
    this.retry = { initial_ms: 100, max_ms: 5000, factor: 2, ...options.retry };
    this.logger = options.logger ?? defaultBusLogger('event-relay');
    this.checkpoints = options.checkpoints ?? options.store.checkpoints;
  }

  /** Loads the checkpoint and starts tailing the log; resolves once tailing has begun. */
  async start(): Promise<void> {
    if (this.subscription) throw new PowernodeError('conflict', `event relay ${this.name} is already started: call stop() before starting it again`);
    const from = await this.checkpoints.get(this.name);
    this.counters.checkpoint = from;
    this.counters.published_position = from;
    this.queue = [];
    this.draining = false;
    this.publisherStopping = false;
    this.stopped = false;
    this.logger.info({ relay: this.name, checkpoint: from, store: this.options.store.adapter }, 'event relay starting');
    this.publisher = this.publishLoop();
    this.subscription = this.options.store.subscribeAll({
      after_position: from,
      batch_size: this.batchSize,
      onEvents: (events) => this.enqueue(events),
      onError: (error) => this.fail(error, 'cannot read the event log; retrying'),
    });
  }

  /**
   * Stops reading, publishes what was already read (one attempt if JetStream refuses), and saves the
   * checkpoint; events not published are published by the next start.
   */
  async stop(): Promise<void> {
    const subscription = this.subscription;
    if (!subscription) return;
    this.subscription = undefined;
    this.draining = true;
    this.wakeReader?.();
    await subscription.stop();
    this.publisherStopping = true;
    this.wakePublisher?.();
    await this.publisher;
    this.publisher = undefined;
    this.stopped = true;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.saving;
    await this.saveCheckpoint().catch((error: unknown) => this.fail(error, 'cannot save the final checkpoint'));
    this.logger.info({ relay: this.name, checkpoint: this.counters.checkpoint, unpublished_read: this.queue.length }, 'event relay stopped');
  }

  /** Resolves once everything that was in the log when called is published, then saves the checkpoint at once. */
  async caughtUp(): Promise<void> {
    const subscription = this.subscription;
    if (!subscription) throw new PowernodeError('conflict', `event relay ${this.name} is not started: call start() first`);
    await subscription.caughtUp;
    const head = await this.options.store.headPosition();
    if (this.counters.published_position < head) {
      await new Promise<void>((resolve) => this.publishedWaiters.push({ position: head, resolve }));
    }
    await this.saving;
    await this.saveCheckpoint();
  }

  /** Counters for /metrics. */
  stats(): EventRelayStats {
    return { ...this.counters };
  }

  /** Events in the log that JetStream has not acknowledged yet (head − published position), for /readyz and /metrics. */
  async lag(): Promise<number> {
    const head = await this.options.store.headPosition();
    return Math.max(0, head - this.counters.published_position);
  }

  private async enqueue(events: EventEnvelope[]): Promise<void> {
    this.queue.push(...events);
    this.wakePublisher?.();
    while (this.queue.length >= this.maxQueued && !this.draining) {
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = undefined;
    }
  }

  private async publishLoop(): Promise<void> {
    let failures = 0;
    while (true) {
      if (this.queue.length === 0) {
        if (this.publisherStopping) return;
        await new Promise<void>((resolve) => (this.wakePublisher = resolve));
        this.wakePublisher = undefined;
        continue;
      }
      try {
        if (this.counters.published_position - this.counters.checkpoint >= this.maxUnsaved) {
          // The checkpoint is far behind (failing writes?): stop widening the span a restart would republish.
          await this.saving;
          await this.saveCheckpoint();
        }
        await this.publishBatch(this.queue.slice(0, this.batchSize));
        failures = 0;
        this.counters.last_error = null;
      } catch (error) {
        failures += 1;
        this.fail(error, 'event relay batch failed; retrying');
        if (this.publisherStopping) return;
        const delay = retryDelayMs(failures, this.retry);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakePublisher = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakePublisher = undefined;
      }
    }
  }

  private async publishBatch(batch: EventEnvelope[]): Promise<void> {
    for (let start = 0; start < batch.length; start += this.maxInFlight) {
      const window = batch.slice(start, start + this.maxInFlight);
      // Publishes are pipelined on one connection, so JetStream stores them in log order.
      const results = await Promise.allSettled(window.map((event) => this.publish(event)));
      let acked = 0;
      for (const r of results) {
        if (r.status === 'rejected') break;
        acked += 1;
        if (r.value.duplicate) this.counters.duplicates += 1;
        else this.counters.published += 1;
      }
      if (acked > 0) this.markPublished(window.slice(0, acked));
      if (acked < window.length) {
        const failed = window[acked]!;
        const cause = (results[acked] as PromiseRejectedResult).reason;
        throw new PowernodeError(
          'bus_unavailable',
          `cannot publish event ${failed.id} (position ${failed.position}, ${failed.type}) to JetStream: ${(cause as Error)?.message ?? String(cause)}; the relay retries from position ${failed.position}`,
          { cause, details: { event_id: failed.id, position: failed.position } },
        );
      }
    }
  }

  private publish(event: EventEnvelope): Promise<PubAck> {
    return this.options.js.publish(eventSubject(event, this.prefix), encodeEvent(event), {
      msgID: event.id,
      headers: eventHeaders(event),
      timeout: this.publishTimeoutMs,
      ...(this.options.expected_stream === undefined ? {} : { expect: { streamName: this.options.expected_stream } }),
    });
  }

  private markPublished(acked: EventEnvelope[]): void {
    this.queue.splice(0, acked.length);
    const position = acked[acked.length - 1]!.position;
    this.counters.published_position = position;
    const ready = this.publishedWaiters.filter((w) => w.position <= position);
    this.publishedWaiters = this.publishedWaiters.filter((w) => w.position > position);
    for (const w of ready) w.resolve();
    if (this.queue.length < this.maxQueued) this.wakeReader?.();
    this.scheduleCheckpoint();
  }

  private scheduleCheckpoint(): void {
    if (this.stopped || this.saving || this.saveTimer) return;
    const wait = this.lastSaveAt + this.checkpointIntervalMs - Date.now();
    if (wait > 0) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        this.scheduleCheckpoint();
      }, wait);
      return;
    }
    this.saving = this.saveCheckpoint()
      .catch((error: unknown) => this.fail(error, 'cannot save the relay checkpoint; retrying'))
      .finally(() => {
        this.saving = undefined;
        if (this.counters.published_position > this.counters.checkpoint) this.scheduleCheckpoint();
      });
  }

  private async saveCheckpoint(): Promise<void> {
    const target = this.counters.published_position;
    if (target <= this.counters.checkpoint) return;
    this.lastSaveAt = Date.now();
    await this.checkpoints.set(this.name, target);
    this.counters.checkpoint = target;
  }

  private fail(error: unknown, message: string): void {
    this.counters.last_error = error instanceof Error ? error.message : String(error);
    this.logger.error({ relay: this.name, err: error, checkpoint: this.counters.checkpoint, published_position: this.counters.published_position }, message);
  }
}
