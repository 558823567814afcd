import type { Descriptor } from './manifest-types.js';
import { cosignSignatureTag, emptyReferrersIndex, filterReferrers, referrersTag, withReferrer } from './referrers-index.js';

const hex = 'ab'.repeat(32);
const entry = (digest: string, artifactType?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest,
  size: 10,
  ...(artifactType === undefined ? {} : { artifactType }),
});

describe('referrers tag schema', () => {
  test('maps a digest to the fallback tag and the legacy cosign tag', () => {
    expect(referrersTag(`sha256:${hex}`)).toBe(`sha256-${hex}`);
    expect(cosignSignatureTag(`sha256:${hex}`)).toBe(`sha256-${hex}.sig`);
  });

  test('withReferrer appends once and keeps existing entries in order', () => {
    const first = withReferrer(emptyReferrersIndex(), entry('sha256:1', 'a'));
    const second = withReferrer(first, entry('sha256:2', 'b'));
    expect(second.manifests.map((d) => d.digest)).toEqual(['sha256:1', 'sha256:2']);
    expect(withReferrer(second, entry('sha256:1', 'a'))).toBe(second);
    expect(second.mediaType).toBe('application/vnd.oci.image.index.v1+json');
  });

  test('filterReferrers keeps only the asked artifact type, or everything', () => {
    const all = [entry('sha256:1', 'a'), entry('sha256:2', 'b'), entry('sha256:3')];
    expect(filterReferrers(all, 'b').map((d) => d.digest)).toEqual(['sha256:2']);
    expect(filterReferrers(all, undefined)).toHaveLength(3);
  });
});
