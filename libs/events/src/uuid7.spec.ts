import { uuidFromName, uuidv7 } from './uuid7.js';

describe('uuidv7', () => {
  it('mints ids that sort in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
  it('marks version 7 and the RFC variant', () => {
    expect(uuidv7()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('uuidFromName', () => {
  it('derives the same id from the same names and different ids otherwise', () => {
    expect(uuidFromName('a', 'b')).toBe(uuidFromName('a', 'b'));
    expect(uuidFromName('a', 'b')).not.toBe(uuidFromName('ab'));
    expect(uuidFromName('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
