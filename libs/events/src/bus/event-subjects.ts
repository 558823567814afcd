import type { EventEnvelope } from '@powernode/event-core';

/** Subject prefix under which the relay publishes domain events. */
export const DEFAULT_EVENT_SUBJECT_PREFIX = 'powernode.events';
/** Name of the JetStream stream holding domain events. */
export const DEFAULT_EVENT_STREAM = 'POWERNODE_EVENTS';
/** Subject prefix of dead-lettered messages; the durable consumer's name is appended. */
export const DEFAULT_DEAD_LETTER_PREFIX = 'powernode.dlq';
/** Name of the JetStream stream that keeps dead-lettered messages for inspection and replay. */
export const DEFAULT_DEAD_LETTER_STREAM = 'POWERNODE_DLQ';
/** Subject prefix of leases (`<prefix>.relay`): who among a service's replicas does what only one may do. */
export const DEFAULT_LEASE_PREFIX = 'powernode.leases';
/** Name of the JetStream stream holding the leases, one message per subject, each expiring after its TTL. */
export const DEFAULT_LEASE_STREAM = 'POWERNODE_LEASES';

/**
 * The category of an event stream: the stream name up to its first `-` (`module-3f2a…` → `module`,
 * `template-base` → `template`), or the whole name when it has no `-`. Stream names follow
 * `<aggregate kind>-<aggregate id>`, so the category is the aggregate kind and consumers can filter on it.
 */
export function streamCategory(stream: string): string {
  const dash = stream.indexOf('-');
  return subjectToken(dash < 0 ? stream : stream.slice(0, dash));
}

/**
 * Makes a string safe as one NATS subject token: anything but letters, digits, `_` and `-` becomes `_`
 * (a `.` would split the token, `*` and `>` are wildcards, whitespace is a protocol delimiter).
 */
export function subjectToken(value: string): string {
  const token = value.replace(/[^A-Za-z0-9_-]/g, '_');
  return token.length > 0 ? token : '_';
}

/** The subject an event is published on: `<prefix>.<stream category>.<event type>`. */
export function eventSubject(event: Pick<EventEnvelope, 'stream' | 'type'>, prefix: string = DEFAULT_EVENT_SUBJECT_PREFIX): string {
  return `${prefix}.${streamCategory(event.stream)}.${subjectToken(event.type)}`;
}

/** The filter subject matching every event of one stream category (and optionally one type). */
export function eventFilterSubject(category: string, type?: string, prefix: string = DEFAULT_EVENT_SUBJECT_PREFIX): string {
  return `${prefix}.${subjectToken(category)}.${type === undefined ? '*' : subjectToken(type)}`;
}

/** The dead-letter subject of a durable consumer: `<prefix>.<durable>`. */
export function deadLetterSubject(durable: string, prefix: string = DEFAULT_DEAD_LETTER_PREFIX): string {
  return `${prefix}.${subjectToken(durable)}`;
}
