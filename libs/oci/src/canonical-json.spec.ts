import { canonicalJsonBytes, sha256Digest } from './index.js';

describe('canonicalJsonBytes', () => {
  test('the same manifest built in a different key order has the same bytes and digest', () => {
    const a = { schemaVersion: 2, config: { size: 2, digest: 'sha256:x', mediaType: 'm' }, layers: [], annotations: { b: '2', a: '1' } };
    const b = { annotations: { a: '1', b: '2' }, layers: [], config: { mediaType: 'm', digest: 'sha256:x', size: 2 }, schemaVersion: 2 };
    expect(canonicalJsonBytes(a).equals(canonicalJsonBytes(b))).toBe(true);
    expect(sha256Digest(canonicalJsonBytes(a))).toBe(sha256Digest(canonicalJsonBytes(b)));
  });
});

describe('sha256Digest', () => {
  test('is the well-known digest of the empty JSON object', () => {
    expect(sha256Digest(Buffer.from('{}'))).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });
});
