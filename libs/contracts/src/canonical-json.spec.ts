import { canonicalJson } from './index.js';

describe('canonicalJson', () => {
  test('the same document built in a different key order has the same text', () => {
    const a = { schemaVersion: 2, config: { size: 2, digest: 'sha256:x', mediaType: 'm' }, layers: [], annotations: { b: '2', a: '1' } };
    const b = { annotations: { a: '1', b: '2' }, layers: [], config: { mediaType: 'm', digest: 'sha256:x', size: 2 }, schemaVersion: 2 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"annotations":{"a":"1","b":"2"},"config":{"digest":"sha256:x","mediaType":"m","size":2},"layers":[],"schemaVersion":2}');
  });

  test('keeps array order, drops undefined members and escapes like JSON.stringify', () => {
    expect(canonicalJson({ z: [3, 1, 2], u: undefined, s: 'a"\n\u2028' })).toBe('{"s":"a\\"\\n\u2028","z":[3,1,2]}');
    expect(canonicalJson([undefined, null])).toBe('[null,null]');
  });

  test('sorts what toJSON returns, and keys nested in arrays', () => {
    expect(canonicalJson({ at: new Date(0), list: [{ b: 1, a: 2 }], custom: { toJSON: () => ({ y: 1, x: 2 }) } })).toBe(
      '{"at":"1970-01-01T00:00:00.000Z","custom":{"x":2,"y":1},"list":[{"a":2,"b":1}]}',
    );
  });

  test('integer-like keys keep the numeric order digests were computed with', () => {
    expect(canonicalJson({ '9': 0, '10': 0, a: 0 })).toBe('{"9":0,"10":0,"a":0}');
  });
});
