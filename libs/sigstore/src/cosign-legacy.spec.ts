// Legacy cosign signature layers made here with key pairs (what `cosign sign --key --tlog-upload=false`
// stores); the keyless public-good case is vector 07 in sigstore-vectors.spec.ts.
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { bundleFromCosignLegacy, COSIGN_ANNOTATIONS, cosignSignatureTag, verifyCosignLegacySignature } from './cosign-legacy.js';
import { DevSigstore } from './dev-sigstore.js';
import { generateSigningKeyPair } from './key-signing.js';
import { publicGoodTrust, temporaryDirectory } from './sigstore-fixtures.test-support.js';

const imageDigest = `sha256:${'ab'.repeat(32)}`;
const keys = generateSigningKeyPair();
const policy = { public_key_pem: keys.publicKeyPem };
const trust = publicGoodTrust();

function simpleSigningPayload(digest: string, type = 'cosign container image signature'): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': 'registry.local/acme/redis' }, image: { 'docker-manifest-digest': digest }, type },
      optional: null,
    }),
  );
}

function keySignedLayer(payload: Buffer): { payload: Buffer; annotations: Record<string, string> } {
  return { payload, annotations: { [COSIGN_ANNOTATIONS.signature]: sign('sha256', payload, keys.privateKeyPem).toString('base64') } };
}

describe('legacy cosign image signatures', () => {
  test('a key-signed layer verifies for the image its payload names', () => {
    const layer = keySignedLayer(simpleSigningPayload(imageDigest));
    expect(verifyCosignLegacySignature({ ...layer, manifestDigest: imageDigest, policy, trust })).toMatchObject({ verified: true, signer_kind: 'public_key' });
  });

  test('is refused for another image: payload_digest_mismatch', () => {
    const layer = keySignedLayer(simpleSigningPayload(imageDigest));
    const verdict = verifyCosignLegacySignature({ ...layer, manifestDigest: `sha256:${'cd'.repeat(32)}`, policy, trust });
    expect(verdict).toMatchObject({ verified: false, reason_code: 'payload_digest_mismatch' });
  });

  test('a signed payload of another type is payload_invalid', () => {
    const layer = keySignedLayer(simpleSigningPayload(imageDigest, 'atomic container signature'));
    expect(verifyCosignLegacySignature({ ...layer, manifestDigest: imageDigest, policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'payload_invalid',
    });
  });

  test('a signed payload that is not JSON is payload_invalid', () => {
    const layer = keySignedLayer(Buffer.from('not json'));
    expect(verifyCosignLegacySignature({ ...layer, manifestDigest: imageDigest, policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'payload_invalid',
    });
  });

  test('a payload changed after signing is signature_invalid', () => {
    const layer = keySignedLayer(simpleSigningPayload(imageDigest));
    const forged = simpleSigningPayload(`sha256:${'cd'.repeat(32)}`);
    expect(
      verifyCosignLegacySignature({ payload: forged, annotations: layer.annotations, manifestDigest: `sha256:${'cd'.repeat(32)}`, policy, trust }),
    ).toMatchObject({
      verified: false,
      reason_code: 'signature_invalid',
    });
  });

  test('a layer without a signature annotation is signature_missing', () => {
    expect(
      verifyCosignLegacySignature({ payload: simpleSigningPayload(imageDigest), annotations: {}, manifestDigest: imageDigest, policy, trust }),
    ).toMatchObject({
      verified: false,
      reason_code: 'signature_missing',
    });
    expect(() => bundleFromCosignLegacy({ payload: Buffer.from('x'), annotations: {} })).toThrow(expect.objectContaining({ code: 'signature_missing' }));
  });

  test.each([
    ['a signature that is not base64', { [COSIGN_ANNOTATIONS.signature]: 'not base64!' }],
    ['a certificate that is not PEM', { [COSIGN_ANNOTATIONS.signature]: 'AAAA', [COSIGN_ANNOTATIONS.certificate]: 'garbage' }],
    ['a Rekor bundle that is not JSON', { [COSIGN_ANNOTATIONS.signature]: 'AAAA', [COSIGN_ANNOTATIONS.bundle]: '{' }],
    ['a Rekor bundle without its payload', { [COSIGN_ANNOTATIONS.signature]: 'AAAA', [COSIGN_ANNOTATIONS.bundle]: '{"SignedEntryTimestamp":"AAAA"}' }],
    [
      'a Rekor entry body that is not JSON',
      {
        [COSIGN_ANNOTATIONS.signature]: 'AAAA',
        [COSIGN_ANNOTATIONS.bundle]: JSON.stringify({
          SignedEntryTimestamp: 'AAAA',
          Payload: { body: 'AAAA', integratedTime: 1, logIndex: 2, logID: 'ab'.repeat(32) },
        }),
      },
    ],
  ])('%s is bundle_malformed', (_what, annotations) => {
    expect(verifyCosignLegacySignature({ payload: simpleSigningPayload(imageDigest), annotations, manifestDigest: imageDigest, policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'bundle_malformed',
    });
  });

  test('a keyless layer without its Rekor bundle proves no signing time: timestamp_missing', async () => {
    const t = await temporaryDirectory('legacy');
    try {
      const dev = await DevSigstore.loadOrCreate(t.dir);
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const certificate = dev.issueSigningCertificate({ publicKey: key.publicKey, identity: 'user@example.com', issuer: 'https://issuer' });
      const payload = simpleSigningPayload(imageDigest);
      const annotations = {
        [COSIGN_ANNOTATIONS.signature]: sign('sha256', payload, key.privateKey).toString('base64'),
        [COSIGN_ANNOTATIONS.certificate]: new X509Certificate(certificate).toString(),
      };
      expect(bundleFromCosignLegacy({ payload, annotations })).toMatchObject({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });
      const verdict = verifyCosignLegacySignature({
        payload,
        annotations,
        manifestDigest: imageDigest,
        policy: { identity_regexp: 'user@example\\.com', issuer_regexp: '.*' },
        trust: dev.trust(),
      });
      expect(verdict).toMatchObject({ verified: false, reason_code: 'timestamp_missing' });
    } finally {
      await t.remove();
    }
  });

  test('signatures live under the sha256-<hex>.sig tag', () => {
    expect(cosignSignatureTag(imageDigest)).toBe(`sha256-${'ab'.repeat(32)}.sig`);
    expect(() => cosignSignatureTag('sha256:xyz')).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});
