import { formatReference, parseReference } from './index.js';

const digest = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  test.each([
    ['127.0.0.1:5000/owner/repo:tag', { registry: '127.0.0.1:5000', repository: 'owner/repo', tag: 'tag' }],
    [`127.0.0.1:5000/owner/repo:tag@${digest}`, { registry: '127.0.0.1:5000', repository: 'owner/repo', tag: 'tag', digest }],
    [`127.0.0.1:5000/owner/repo@${digest}`, { registry: '127.0.0.1:5000', repository: 'owner/repo', digest }],
    ['localhost/a', { registry: 'localhost', repository: 'a' }],
    ['ghcr.io/org/sub/mod-ule_x.y:v1.0.0-rc.1', { registry: 'ghcr.io', repository: 'org/sub/mod-ule_x.y', tag: 'v1.0.0-rc.1' }],
    ['localhost:5000/a/b', { registry: 'localhost:5000', repository: 'a/b' }],
    ['oci://registry.example.com/x:1', { registry: 'registry.example.com', repository: 'x', tag: '1' }],
  ])('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  test('a first component without a dot or port is a repository path, resolved against the default registry', () => {
    expect(parseReference('owner/repo:v1', { defaultRegistry: '127.0.0.1:5000' })).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'owner/repo',
      tag: 'v1',
    });
  });

  test.each([
    ['', /empty/],
    ['owner/repo:v1', /names no registry host/],
    ['127.0.0.1:5000/Owner/Repo', /repository "Owner\/Repo"/],
    ['127.0.0.1:5000/owner/repo:-bad', /tag "-bad"/],
    ['127.0.0.1:5000/owner/repo@sha256:abc', /not a sha256/],
    ['127.0.0.1:5000/owner//repo', /repository/],
    [`127.0.0.1:5000/owner/repo:${'t'.repeat(129)}`, /tag/],
  ])('refuses %j with validation_failed', (input, message) => {
    expect(() => parseReference(input)).toThrow(message);
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  test('formatReference gives back the canonical string', () => {
    const text = `127.0.0.1:5000/owner/repo:tag@${digest}`;
    expect(formatReference(parseReference(text))).toBe(text);
    expect(formatReference({ registry: 'r.io', repository: 'a' })).toBe('r.io/a');
  });
});
