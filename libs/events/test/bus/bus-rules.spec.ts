import { PowernodeError } from '@powernode/contracts';
import { busNames, rpcSubject } from '../../src/bus/bus-namespace.js';
import { failureOutcome } from '../../src/bus/delivery-outcome.js';
import { decodeEvent, encodeEvent, eventHeaders } from '../../src/bus/event-message.js';
import { deadLetterSubject, eventFilterSubject, eventSubject, streamCategory, subjectToken } from '../../src/bus/event-subjects.js';
import { retryDelayMs } from '../../src/bus/retry-delay.js';
import type { EventEnvelope } from '@powernode/event-core';

const event: EventEnvelope = {
  id: '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b',
  stream: 'module-3f2a',
  type: 'ModuleCreated',
  version: 1,
  position: 42,
  occurred_at: '2025-01-01T00:00:00.000Z',
  correlation_id: 'corr-1',
  causation_id: 'cause-1',
  actor: 'alice',
  schema_version: 1,
  data: { name: 'my-redis' },
};

describe('event subjects', () => {
  it.each([
    ['module-3f2a', 'module'],
    ['template-base-hardened', 'template'],
    ['system', 'system'],
    ['odd.name-1', 'odd_name'],
    ['-leading', '_'],
  ])('takes the category of stream %s as %s (up to the first dash, made subject-safe)', (stream, category) => {
    expect(streamCategory(stream)).toBe(category);
  });

  it('publishes an event on <prefix>.<category>.<type>', () => {
    expect(eventSubject(event)).toBe('powernode.events.module.ModuleCreated');
    expect(eventSubject(event, 'pntest.x.ev')).toBe('pntest.x.ev.module.ModuleCreated');
  });

  it('never lets a type split the subject or act as a wildcard', () => {
    expect(subjectToken('a.b *>\tc')).toBe('a_b____c');
    expect(subjectToken('')).toBe('_');
    expect(eventSubject({ stream: 'x-1', type: 'Bad.Type>' })).toBe('powernode.events.x.Bad_Type_');
  });

  it('builds filter and dead-letter subjects from the same rule', () => {
    expect(eventFilterSubject('module')).toBe('powernode.events.module.*');
    expect(eventFilterSubject('module', 'ModuleCreated')).toBe('powernode.events.module.ModuleCreated');
    expect(deadLetterSubject('catalog.projector')).toBe('powernode.dlq.catalog_projector');
  });
});

describe('bus namespaces', () => {
  it('keeps the historical stream and subject names when no namespace is set', () => {
    expect(busNames()).toEqual({
      namespace: undefined,
      event_stream: 'POWERNODE_EVENTS',
      event_subject_prefix: 'powernode.events',
      dead_letter_stream: 'POWERNODE_DLQ',
      dead_letter_prefix: 'powernode.dlq',
      lease_stream: 'POWERNODE_LEASES',
      lease_subject_prefix: 'powernode.leases',
    });
    expect(rpcSubject('catalog.module.create')).toBe('catalog.module.create');
  });

  it('puts every subject under the namespace and suffixes the stream names with it', () => {
    expect(busNames('pt1a2b')).toEqual({
      namespace: 'pt1a2b',
      event_stream: 'POWERNODE_EVENTS_pt1a2b',
      event_subject_prefix: 'pt1a2b.powernode.events',
      dead_letter_stream: 'POWERNODE_DLQ_pt1a2b',
      dead_letter_prefix: 'pt1a2b.powernode.dlq',
      lease_stream: 'POWERNODE_LEASES_pt1a2b',
      lease_subject_prefix: 'pt1a2b.powernode.leases',
    });
    expect(rpcSubject('catalog.module.create', 'pt1a2b')).toBe('pt1a2b.catalog.module.create');
    expect(eventSubject(event, busNames('pt1a2b').event_subject_prefix)).toBe('pt1a2b.powernode.events.module.ModuleCreated');
  });

  it.each(['', 'a.b', 'a*', 'a>', 'with space', 'x'.repeat(33)])(
    'refuses %j as a namespace: it must be one subject token that fits a stream name',
    (namespace) => {
      expect(() => busNames(namespace)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    },
  );
});

describe('event messages', () => {
  it('round-trips the envelope and carries ids in headers', () => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
    const h = eventHeaders(event);
    expect(h.get('Nats-Msg-Id')).toBe(event.id);
    expect(h.get('Powernode-Correlation-Id')).toBe('corr-1');
    expect(h.get('Powernode-Causation-Id')).toBe('cause-1');
    expect(h.get('Powernode-Event-Position')).toBe('42');
  });

  it('leaves the causation header out for an event nothing caused', () => {
    expect(eventHeaders({ ...event, causation_id: null }).has('Powernode-Causation-Id')).toBe(false);
  });

  it('refuses a body that is not JSON or not an envelope, as a terminal invalid_event', () => {
    const notJson = (() => {
      try {
        decodeEvent(new TextEncoder().encode('{oops'));
      } catch (e) {
        return e;
      }
    })();
    expect(notJson).toMatchObject({ code: 'invalid_event', retryable: false });
    expect(() => decodeEvent(new TextEncoder().encode(JSON.stringify({ ...event, position: 0 })))).toThrow(/position/);
  });
});

describe('retry delay', () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [10, 5000],
  ])('after failed attempt %i waits %i ms (doubling, capped)', (attempt, delay) => {
    expect(retryDelayMs(attempt, { initial_ms: 100, max_ms: 5000, factor: 2 })).toBe(delay);
  });
});

describe('failure outcome', () => {
  const backoff = { initial_ms: 100, max_ms: 1000, factor: 2 };
  it.each([
    [
      'a retryable PowernodeError before the limit',
      new PowernodeError('store_unavailable', 'db down'),
      1,
      { kind: 'retry', delay_ms: 100, code: 'store_unavailable' },
    ],
    ['an unexpected exception before the limit', new TypeError('boom'), 2, { kind: 'retry', delay_ms: 200, code: 'internal' }],
    ['a thrown non-error value', 'string thrown', 1, { kind: 'retry', delay_ms: 100, code: 'internal' }],
    [
      'a terminal PowernodeError on the first attempt',
      new PowernodeError('invalid_transition', 'no'),
      1,
      { kind: 'dead_letter', reason: 'terminal_error', code: 'invalid_transition' },
    ],
    ['a code made retryable explicitly', new PowernodeError('conflict', 'later', { retryable: true }), 1, { kind: 'retry', delay_ms: 100, code: 'conflict' }],
    [
      'a retryable error on the last attempt',
      new PowernodeError('bus_unavailable', 'x'),
      3,
      { kind: 'dead_letter', reason: 'max_deliver', code: 'bus_unavailable' },
    ],
  ])('%s', (_name, error, attempt, expected) => {
    expect(failureOutcome(error, attempt, 3, backoff)).toEqual(expected);
  });
});
