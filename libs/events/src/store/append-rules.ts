import { PowernodeError } from '@powernode/contracts';
import type { EventEnvelope, NewEvent } from '@powernode/event-core';
import type { ExpectedVersion } from './event-store.js';

/** Throws `concurrency_conflict` unless the stream's actual version satisfies the writer's expectation. */
export function checkExpectedVersion(stream: string, expected: ExpectedVersion, actual: number): void {
  if (expected === 'any') return;
  const want = expected === 'no_stream' ? 0 : expected;
  if (want !== actual) {
    throw new PowernodeError(
      'concurrency_conflict',
      `stream ${stream} is at version ${actual}, the append expected ${expected === 'no_stream' ? 'no stream' : `version ${want}`}: reload the stream and retry`,
      { details: { stream, expected, actual } },
    );
  }
}

/** Fills in the envelope fields the writer may omit (`now` is the default `occurred_at`, one per append). */
export function toEnvelope(
  e: NewEvent & { schema_version: number },
  placed: { id: string; stream: string; version: number; position: number },
  now?: string,
): EventEnvelope {
  return {
    id: placed.id,
    stream: placed.stream,
    type: e.type,
    version: placed.version,
    position: placed.position,
    occurred_at: e.occurred_at ?? now ?? new Date().toISOString(),
    correlation_id: e.correlation_id ?? placed.id,
    causation_id: e.causation_id ?? null,
    actor: e.actor ?? 'system',
    schema_version: e.schema_version,
    data: e.data,
  };
}

/** Refuses a malformed append request before any adapter touches storage. */
export function checkAppendRequest(stream: string, expected: ExpectedVersion): void {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new PowernodeError('validation_failed', `stream name must be a non-empty string, got ${JSON.stringify(stream)}: name the aggregate's stream`, {
      details: { field: 'stream' },
    });
  }
  if (expected !== 'any' && expected !== 'no_stream' && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new PowernodeError(
      'validation_failed',
      `expected version for stream ${stream} must be 'any', 'no_stream' or a non-negative integer, got ${JSON.stringify(expected)}`,
      {
        details: { field: 'expected', stream },
      },
    );
  }
}

/** Refuses an append that carries the same event id twice (one of the two would silently vanish). */
export function checkDistinctIds(events: readonly NewEvent[]): void {
  const seen = new Set<string>();
  for (const e of events) {
    if (e.id === undefined) continue;
    if (seen.has(e.id))
      throw new PowernodeError('invalid_event', `event id ${e.id} appears twice in one append: give every event its own id`, { details: { id: e.id } });
    seen.add(e.id);
  }
}

/**
 * True when every event carries an id and each is already stored on this stream: the append is a retry of one
 * that committed, so it is answered as a no-op instead of a conflict or a duplicate.
 */
export function isAlreadyStored(stream: string, events: readonly NewEvent[], storedStreamOf: (id: string) => string | undefined): boolean {
  return events.length > 0 && events.every((e) => e.id !== undefined && storedStreamOf(e.id) === stream);
}

/** The `conflict` raised when an event id is already used by another event (in this or another stream). */
export function eventIdTaken(id: string, storedStream: string | undefined, cause?: unknown): PowernodeError {
  return new PowernodeError(
    'conflict',
    `event id ${id} is already stored${storedStream === undefined ? '' : ` in stream ${storedStream}`}: event ids are unique across the store, mint a new one or re-append the whole original batch`,
    { details: { id, ...(storedStream === undefined ? {} : { stream: storedStream }) }, ...(cause === undefined ? {} : { cause }) },
  );
}
