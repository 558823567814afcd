import type { EventEnvelope } from '@powernode/events';
import { serverSentEvent, streamStart } from './event-stream-endpoint.js';
import { visibleEvent } from './event-visibility.js';

const event = (type: string, data: unknown): EventEnvelope => ({
  id: 'e1',
  stream: 's',
  type,
  version: 1,
  position: 5,
  occurred_at: '2026-01-01T00:00:00Z',
  correlation_id: 'c',
  causation_id: null,
  actor: 'a',
  schema_version: 1,
  data,
});

describe('where a live stream starts', () => {
  it('resumes after Last-Event-ID, else after ?after=, else at the head', () => {
    expect(streamStart('12', '3', 40)).toBe(12);
    expect(streamStart(undefined, '3', 40)).toBe(3);
    expect(streamStart(undefined, undefined, 40)).toBe(40);
    expect(streamStart('', undefined, 40)).toBe(40);
  });
  it('refuses a position that is not a whole number', () => {
    expect(() => streamStart('12abc', undefined, 0)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    expect(() => streamStart(undefined, '-1', 0)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
  it('frames an event with its position as the id', () => {
    expect(serverSentEvent(5, { a: 1 })).toBe('id: 5\nevent: log\ndata: {"a":1}\n\n');
  });
});

describe('what a role sees of an event', () => {
  it('gives an admin every event whole', () => {
    const e = event('TokenCreated', { token_sha256: 'x' });
    expect(visibleEvent(e, 'admin')).toBe(e);
  });
  it('withholds token, registration and enrolment data from other roles', () => {
    for (const type of ['TokenCreated', 'ModuleRegistered', 'ModuleWebhookSecretRotated', 'InstanceEnrolled']) {
      expect(visibleEvent(event(type, { secret: 'x' }), 'viewer')).toMatchObject({ type, data: null, data_withheld: true });
    }
  });
  it('gives every role the data of promotions and instance status', () => {
    const promoted = event('ModuleVersionPromoted', { to: 'live' });
    expect(visibleEvent(promoted, 'viewer')).toBe(promoted);
    const status = event('InstanceStatusChanged', { to: 'running' });
    expect(visibleEvent(status, 'operator')).toBe(status);
  });
});
