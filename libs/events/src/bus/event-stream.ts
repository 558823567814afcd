import { JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { PowernodeError } from '@powernode/contracts';
import { DEFAULT_DEAD_LETTER_PREFIX, DEFAULT_DEAD_LETTER_STREAM, DEFAULT_EVENT_STREAM, DEFAULT_EVENT_SUBJECT_PREFIX } from './event-subjects.js';

export interface EventStreamOptions {
  /** JetStream stream name. Default `POWERNODE_EVENTS`. */
  name?: string;
  /** Subjects the stream captures. Default `powernode.events.>`. */
  subjects?: string[];
  /**
   * How long JetStream remembers a `Nats-Msg-Id`. A relay that dies after publishing and before saving its
   * checkpoint republishes on restart; copies arriving within this window are dropped. Default 5 minutes.
   */
  duplicate_window_ms?: number;
  /** How long messages are kept (0 = forever; the event store, not the bus, is the record). Default 0. */
  max_age_ms?: number;
  /** Replicas (3 on a production cluster). Default 1. */
  num_replicas?: number;
}

export const DEFAULT_DUPLICATE_WINDOW_MS = 5 * 60_000;

/** Creates the domain-event stream, or brings an existing one to the given subjects and windows. Idempotent. */
export async function ensureEventStream(jsm: JetStreamManager, options: EventStreamOptions = {}): Promise<StreamInfo> {
  return ensureStream(jsm, {
    name: options.name ?? DEFAULT_EVENT_STREAM,
    subjects: options.subjects ?? [`${DEFAULT_EVENT_SUBJECT_PREFIX}.>`],
    duplicate_window_ms: options.duplicate_window_ms ?? DEFAULT_DUPLICATE_WINDOW_MS,
    max_age_ms: options.max_age_ms ?? 0,
    num_replicas: options.num_replicas ?? 1,
  });
}

/** Creates the stream that keeps dead-lettered messages (default `POWERNODE_DLQ` on `powernode.dlq.>`). Idempotent. */
export async function ensureDeadLetterStream(jsm: JetStreamManager, options: EventStreamOptions = {}): Promise<StreamInfo> {
  return ensureStream(jsm, {
    name: options.name ?? DEFAULT_DEAD_LETTER_STREAM,
    subjects: options.subjects ?? [`${DEFAULT_DEAD_LETTER_PREFIX}.>`],
    duplicate_window_ms: options.duplicate_window_ms ?? DEFAULT_DUPLICATE_WINDOW_MS,
    max_age_ms: options.max_age_ms ?? 0,
    num_replicas: options.num_replicas ?? 1,
  });
}

async function ensureStream(jsm: JetStreamManager, want: Required<EventStreamOptions>): Promise<StreamInfo> {
  const config = {
    subjects: want.subjects,
    duplicate_window: nanos(want.duplicate_window_ms),
    max_age: nanos(want.max_age_ms),
  };
  try {
    let existing: StreamInfo | undefined;
    try {
      existing = await jsm.streams.info(want.name);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    }
    if (existing === undefined) {
      return await jsm.streams.add({
        name: want.name,
        ...config,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: want.num_replicas,
      });
    }
    const c = existing.config;
    const same =
      c.duplicate_window === config.duplicate_window &&
      c.max_age === config.max_age &&
      c.num_replicas === want.num_replicas &&
      c.subjects.length === config.subjects.length &&
      config.subjects.every((s) => c.subjects.includes(s));
    // A stream made on one server keeps its events when the platform moves to a cluster: raising its replicas
    // is an update JetStream carries out by copying them to the new peers.
    return same ? existing : await jsm.streams.update(want.name, { ...config, num_replicas: want.num_replicas });
  } catch (cause) {
    throw new PowernodeError(
      'bus_unavailable',
      `cannot create or update JetStream stream ${want.name} on ${want.subjects.join(', ')}: ${(cause as Error).message}; check that NATS runs with JetStream enabled and no other stream owns these subjects`,
      { cause, details: { stream: want.name, subjects: want.subjects } },
    );
  }
}
