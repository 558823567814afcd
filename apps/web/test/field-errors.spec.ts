import { fieldErrors } from '../src/domain/field-errors.js';
import { relativeTime, shortDigest } from '../src/domain/relative-time.js';

describe('fieldErrors', () => {
  it('puts each issue next to the field its path names, and the rest under _form', () => {
    expect(
      fieldErrors(
        [
          { path: 'name', message: 'must be lowercase' },
          { path: 'name', message: 'too long' },
          { path: 'mask[0]', message: 'bad glob' },
          { path: '', message: 'body must be an object' },
        ],
        ['name', 'category'],
      ),
    ).toEqual({ name: 'must be lowercase; too long', _form: 'mask[0]: bad glob; body must be an object' });
  });
});

describe('relativeTime and shortDigest', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it.each([
    [null, 'never'],
    ['2026-01-01T11:59:48Z', '12 s ago'],
    ['2026-01-01T11:57:00Z', '3 min ago'],
    ['2026-01-01T09:00:00Z', '3 h ago'],
    ['2025-12-27T12:00:00Z', '5 d ago'],
    ['2026-01-01T12:05:00Z', 'in the future'],
  ])('%s is %s', (iso, text) => {
    expect(relativeTime(iso, now)).toBe(text);
  });
  it('shortens a digest to its algorithm and 12 hex digits', () => {
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).toBe('sha256:abababababab');
    expect(shortDigest(null)).toBe('—');
  });
});
