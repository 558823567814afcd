import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ProjectionStateStore } from './projection-state-store.js';

/** What the writer believes the stream's current version is. `no_stream` = the stream must not exist yet. */
export type ExpectedVersion = number | 'no_stream' | 'any';

export interface AppendOptions {
  expected: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append (the version of the last event written). */
  next_expected_version: number;
  /** Global position of the last event written. */
  position: number;
  /** The appended events as stored (with ids, versions and positions). Empty for an idempotent no-op. */
  events: EventEnvelope[];
}

export interface ReadStreamOptions {
  direction?: 'forward' | 'backward';
  /** Inclusive version to start from (forward: lowest, backward: highest). Default: start or end. */
  from_version?: number;
  limit?: number;
}

export interface ReadAllOptions {
  /** Exclusive: returns events with position > after_position. Default 0 (from the beginning). */
  after_position?: number;
  limit?: number;
}

export interface SubscribeAllOptions {
  after_position?: number;
  /** Called for each batch, in order; the next batch is not delivered until the promise settles. */
  onEvents: (events: EventEnvelope[]) => Promise<void> | void;
  onError?: (error: unknown) => void;
  batch_size?: number;
}

export interface Subscription {
  /** Position of the last event delivered. */
  readonly position: number;
  /** Resolves when the subscription has caught up with the head at least once. */
  readonly caughtUp: Promise<void>;
  /**
   * Reads the log now rather than at the next poll: for a reader that knows the log has grown through another
   * process (whose appends this store instance is not told about).
   */
  poll(): void;
  stop(): Promise<void>;
}

/**
 * The event store port: the source of truth. Adapters: in-memory (tests), SQLite (embedded default),
 * PostgreSQL, KurrentDB. All must pass the same contract suite.
 */
export interface EventStore {
  readonly adapter: string;
  /**
   * Appends atomically. Throws PowernodeError `concurrency_conflict` when `expected` does not hold, and
   * `unknown_event_type` / `invalid_event` when an event fails the catalogue. Appending events whose ids are
   * already stored (the same ids, on the same stream) is a no-op returning the stream's current version.
   */
  append(stream: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<EventEnvelope[]>;
  /** The stream's current version, or 0 when it does not exist. */
  streamVersion(stream: string): Promise<number>;
  readAll(options?: ReadAllOptions): Promise<EventEnvelope[]>;
  /** Position of the last event in the global log (0 when empty). */
  headPosition(): Promise<number>;
  /** Catch-up then live subscription to the global log. */
  subscribeAll(options: SubscribeAllOptions): Subscription;
  /** Consumer checkpoints kept in the same database as the events. */
  readonly checkpoints: CheckpointStore;
  /** Projection read-model snapshots kept in the same database as the events. */
  readonly projections: ProjectionStateStore;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
