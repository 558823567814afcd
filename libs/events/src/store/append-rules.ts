import { PowernodeError } from '@powernode/contracts';
import type { EventEnvelope, NewEvent } from '../envelope.js';
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

/** Fills in the envelope fields the writer may omit. */
export function toEnvelope(
  e: NewEvent & { schema_version: number },
  placed: { id: string; stream: string; version: number; position: number },
): EventEnvelope {
  return {
    id: placed.id,
    stream: placed.stream,
    type: e.type,
    version: placed.version,
    position: placed.position,
    occurred_at: e.occurred_at ?? new Date().toISOString(),
    correlation_id: e.correlation_id ?? placed.id,
    causation_id: e.causation_id ?? null,
    actor: e.actor ?? 'system',
    schema_version: e.schema_version,
    data: e.data,
  };
}
