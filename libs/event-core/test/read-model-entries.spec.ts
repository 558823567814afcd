import { compareText, entryOf, setEntry } from '../src/read-model-entries.js';

describe('read-model map entries', () => {
  it('finds only own entries: inherited names such as "constructor" are absent keys', () => {
    const map: Record<string, number> = { present: 1 };
    expect(entryOf(map, 'present')).toBe(1);
    expect(entryOf(map, 'constructor')).toBeUndefined();
    expect(entryOf(map, 'toString')).toBeUndefined();
    expect(entryOf(map, '__proto__')).toBeUndefined();
  });

  it('stores "__proto__" as a plain own key, as JSON.parse gives a saved state back', () => {
    const map: Record<string, { n: number }> = {};
    setEntry(map, '__proto__', { n: 7 });
    expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
    expect(Object.keys(map)).toEqual(['__proto__']);
    expect(entryOf(map, '__proto__')).toEqual({ n: 7 });
    const reloaded = JSON.parse(JSON.stringify(map)) as Record<string, { n: number }>;
    expect(reloaded).toEqual(map);
    expect(entryOf(reloaded, '__proto__')).toEqual({ n: 7 });
  });

  it('replaces an existing entry in place and keeps other keys', () => {
    const map: Record<string, string> = { a: 'x', b: 'y' };
    setEntry(map, 'a', 'z');
    setEntry(map, 'constructor', 'c');
    expect(map).toEqual({ a: 'z', b: 'y', constructor: 'c' });
  });

  it('orders text by code unit, independent of locale', () => {
    expect(['b', 'a', 'B', 'é', 'z', 'a'].sort(compareText)).toEqual(['B', 'a', 'a', 'b', 'z', 'é']);
    expect(compareText('same', 'same')).toBe(0);
  });
});
