import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { jsonCopy, publicGoodTrust, temporaryDirectory, VECTORS_DIR } from './sigstore-fixtures.test-support.js';
import { combineTrust, loadTrustedRoot, parseTrustedRoot } from './trusted-root.js';

const ROOT_PATH = path.join(VECTORS_DIR, 'trusted_root.json');
const rootJson = JSON.parse(readFileSync(ROOT_PATH, 'utf8')) as Record<string, unknown>;

describe('trusted roots', () => {
  test('the public-good root needs a tlog entry, an SCT and a timestamp', () => {
    const trust = publicGoodTrust();
    expect(trust.roots).toHaveLength(1);
    expect(trust.roots[0]).toMatchObject({ name: 'public-good', thresholds: { tlog: 1, ctlog: 1, timestamp: 1 } });
    expect(trust.material.certificateAuthorities).toHaveLength(2);
    expect(trust.material.tlogs).toHaveLength(1);
    expect(trust.material.timestampAuthorities).toHaveLength(1);
  });

  test('loads from a path, JSON text, bytes or an object alike', () => {
    const fromText = loadTrustedRoot(readFileSync(ROOT_PATH, 'utf8'));
    const fromBytes = loadTrustedRoot(readFileSync(ROOT_PATH));
    const fromObject = loadTrustedRoot(rootJson);
    const fromPath = loadTrustedRoot(ROOT_PATH);
    for (const t of [fromText, fromBytes, fromObject, fromPath]) {
      expect(t.material.certificateAuthorities.map((ca) => ca.certChain.length)).toEqual([1, 2]);
    }
    expect(fromPath.roots[0]!.name).toBe(ROOT_PATH);
  });

  test('a root without logs requires neither a tlog entry nor an SCT; explicit thresholds win', () => {
    const bare = jsonCopy(rootJson);
    bare.tlogs = [];
    bare.ctlogs = [];
    expect(parseTrustedRoot(bare).roots[0]!.thresholds).toEqual({ tlog: 0, ctlog: 0, timestamp: 1 });
    expect(parseTrustedRoot(bare, { thresholds: { tlog: 2, timestamp: 0 } }).roots[0]!.thresholds).toEqual({ tlog: 2, ctlog: 0, timestamp: 1 });
  });

  test('combining keeps each root and unions their material', () => {
    const a = loadTrustedRoot(rootJson, { name: 'a' });
    const b = loadTrustedRoot(rootJson, { name: 'b' });
    const both = combineTrust(a, b);
    expect(both.roots.map((r) => r.name)).toEqual(['a', 'b']);
    expect(both.material.certificateAuthorities).toHaveLength(4);
    expect(both.material.ctlogs).toHaveLength(4);
    expect(() => combineTrust()).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });

  test('a missing file is not_found and names the path', () => {
    expect(() => loadTrustedRoot('/nonexistent/trusted_root.json')).toThrow(
      expect.objectContaining({ code: 'not_found', message: expect.stringContaining('/nonexistent/trusted_root.json') }),
    );
  });

  test('a file that is not JSON is validation_failed', async () => {
    const t = await temporaryDirectory('root');
    try {
      const file = path.join(t.dir, 'trusted_root.json');
      await writeFile(file, 'not json');
      expect(() => loadTrustedRoot(file)).toThrow(expect.objectContaining({ code: 'validation_failed', message: expect.stringMatching(/not valid JSON/) }));
    } finally {
      await t.remove();
    }
  });

  test.each([
    ['an array', []],
    ['another media type', { ...rootJson, mediaType: 'application/json' }],
    ['no authority or log at all', { mediaType: rootJson.mediaType, tlogs: [], ctlogs: [], certificateAuthorities: [], timestampAuthorities: [] }],
    [
      'a certificate that cannot be parsed',
      {
        ...rootJson,
        certificateAuthorities: [
          { subject: {}, certChain: { certificates: [{ rawBytes: Buffer.from('junk').toString('base64') }] }, validFor: { start: '2021-01-01T00:00:00Z' } },
        ],
      },
    ],
    [
      'an authority with an empty chain',
      { ...rootJson, certificateAuthorities: [{ subject: {}, certChain: { certificates: [] }, validFor: { start: '2021-01-01T00:00:00Z' } }] },
    ],
  ])('%s is refused as validation_failed', (_what, json) => {
    expect(() => parseTrustedRoot(json, { name: 'candidate' })).toThrow(
      expect.objectContaining({ code: 'validation_failed', message: expect.stringContaining('candidate') }),
    );
  });
});
