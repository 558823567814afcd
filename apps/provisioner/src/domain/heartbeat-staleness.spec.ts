import { refusalOf } from '@powernode/testing';
import { isHeartbeatStale, laterOf, staleThresholdMs } from './heartbeat-staleness.js';

describe('heartbeat staleness', () => {
  const last = '2026-05-01T10:00:00.000Z';

  it.each([
    ['exactly three intervals later', '2026-05-01T10:01:30.000Z', false],
    ['one millisecond past three intervals', '2026-05-01T10:01:30.001Z', true],
    ['two intervals later', '2026-05-01T10:01:00.000Z', false],
    ['an hour later', '2026-05-01T11:00:00.000Z', true],
    ['before the last heartbeat (clock skew)', '2026-05-01T09:59:00.000Z', false],
  ])('with a 30 s interval and 3 missed beats, %s is stale: %s', (_when, now, stale) => {
    expect(isHeartbeatStale(last, now, 30_000, 3)).toBe(stale);
  });

  it('defaults to three missed beats', () => {
    expect(isHeartbeatStale(last, '2026-05-01T10:01:31.000Z', 30_000)).toBe(true);
    expect(isHeartbeatStale(last, '2026-05-01T10:01:29.000Z', 30_000)).toBe(false);
  });

  it('honours another number of missed beats', () => {
    expect(isHeartbeatStale(last, '2026-05-01T10:01:01.000Z', 30_000, 2)).toBe(true);
    expect(isHeartbeatStale(last, '2026-05-01T10:02:29.000Z', 30_000, 5)).toBe(false);
  });

  it('compares instants, not strings (offsets)', () => {
    expect(isHeartbeatStale('2026-05-01T12:00:00.000+02:00', '2026-05-01T10:01:00.000Z', 30_000)).toBe(false);
  });

  it.each([
    [0, 3, 'positive_interval'],
    [-1, 3, 'positive_interval'],
    [Number.NaN, 3, 'positive_interval'],
    [30_000, 0, 'positive_missed_beats'],
    [30_000, 1.5, 'positive_missed_beats'],
  ])('refuses interval %p with %p missed beats (%s)', (interval, missed, rule) => {
    expect(refusalOf(() => staleThresholdMs(interval, missed))).toMatchObject({ code: 'validation_failed', details: { rule } });
  });

  it('refuses a time that is not ISO-8601', () => {
    expect(refusalOf(() => isHeartbeatStale('yesterday', last, 30_000))).toMatchObject({
      code: 'validation_failed',
      details: { field: 'last', rule: 'iso_timestamp' },
    });
  });

  it('picks the later of two times, null meaning never', () => {
    expect(laterOf(null, last)).toBe(last);
    expect(laterOf(last, null)).toBe(last);
    expect(laterOf(null, null)).toBeNull();
    expect(laterOf('2026-05-01T10:00:01.000Z', last)).toBe('2026-05-01T10:00:01.000Z');
  });
});
