// Verification rules, exercised with real signatures from a dev Sigstore made for this suite and with the
// public-good vectors.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { toDSSEBundle, type SerializedBundle } from '@sigstore/bundle';
import { ASN1Obj } from '@sigstore/core';
import { COSIGN_SIGN_PREDICATE_TYPE } from './artifact-binding.js';
import { prepareSignature, withWitnesses } from './bundle-assembly.js';
import { DevSigstore } from './dev-sigstore.js';
import { generateSigningKeyPair, signWithKey } from './key-signing.js';
import { escapeRegExp, jsonCopy, publicGoodTrust, temporaryDirectory, VECTORS_DIR } from './sigstore-fixtures.test-support.js';
import type { IdentityPolicy } from './signer-policy.js';
import { combineTrust, parseTrustedRoot, type SigstoreTrust } from './trusted-root.js';
import { VERIFICATION_REASON_CODES } from './verdict.js';
import { verifyBundle } from './verify-bundle.js';

const USER = 'user@example.com';
const ISSUER = 'https://issuer.example.com';
const WORKFLOW = 'https://github.com/acme/redis-module/.github/workflows/build.yaml@refs/tags/v1.2.0';
const GITHUB = 'https://token.actions.githubusercontent.com';
const userPolicy: IdentityPolicy = { identity_regexp: 'user@example\\.com', issuer_regexp: escapeRegExp(ISSUER) };

const artifact = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
const artifactDigest = `sha256:${createHash('sha256').update(artifact).digest('hex')}`;
const otherArtifact = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json" }');

let dev: DevSigstore;
let otherDev: DevSigstore;
let trust: SigstoreTrust;
let cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const a = await temporaryDirectory('verify');
  const b = await temporaryDirectory('verify-other');
  cleanup = [a.remove, b.remove];
  dev = await DevSigstore.loadOrCreate(a.dir);
  otherDev = await DevSigstore.loadOrCreate(b.dir);
  trust = dev.trust();
});

afterAll(async () => {
  await Promise.all(cleanup.map((remove) => remove()));
});

/** A signature assembled piece by piece, to vary the certificate time, the timestamp time and the TSA. */
function assemble(options: {
  identity?: string;
  issuer?: string;
  certAt?: Date;
  stampAt?: Date;
  ca?: DevSigstore;
  tsa?: DevSigstore;
  stampOver?: Buffer;
}): SerializedBundle {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = new Date();
  const certificate = (options.ca ?? dev).issueSigningCertificate({
    publicKey: key.publicKey,
    identity: options.identity ?? USER,
    issuer: options.issuer ?? ISSUER,
    at: options.certAt ?? now,
  });
  const prepared = prepareSignature({ artifact });
  const signature = sign('sha256', prepared.toBeSigned, key.privateKey);
  const stamp = (options.tsa ?? dev).timestamp(options.stampOver ?? signature, options.stampAt ?? now);
  return withWitnesses(prepared.bundle(signature, { type: 'certificate', certificate }), { rfc3161Timestamps: [stamp], tlogEntries: [] });
}

describe('dev-signed round trip', () => {
  test('verifies with the dev root and a matching policy, reporting signer and signing time', () => {
    const at = new Date(Date.now() - 5_000);
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER, at });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toEqual({
      verified: true,
      signer_kind: 'certificate',
      signer_identity: USER,
      signer_issuer: ISSUER,
      signed_at: new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString(),
    });
  });

  test('verifies from the artifact digest alone', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, policy: userPolicy, trust })).toMatchObject({ verified: true, signer_identity: USER });
  });

  test('accepts the bundle as JSON text or bytes', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle: JSON.stringify(bundle), artifact, policy: userPolicy, trust }).verified).toBe(true);
    expect(verifyBundle({ bundle: Buffer.from(JSON.stringify(bundle)), artifact, policy: userPolicy, trust }).verified).toBe(true);
  });

  test('refuses evil-user@example.com for a policy naming user@example.com (anchoring)', () => {
    const bundle = dev.sign({ artifact, identity: `evil-${USER}`, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
  });

  test('refuses another issuer', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: 'https://accounts.google.com' });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'issuer_mismatch' });
  });

  test('refuses another artifact, by bytes or by digest', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact: otherArtifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'signature_invalid' });
    const otherDigest = `sha256:${createHash('sha256').update(otherArtifact).digest('hex')}`;
    expect(verifyBundle({ bundle, artifact: { digest: otherDigest }, policy: userPolicy, trust })).toMatchObject({
      verified: false,
      reason_code: 'signature_invalid',
    });
  });

  test('refuses under the public-good root, which never issued the dev certificate', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust: publicGoodTrust() })).toMatchObject({ verified: false, reason_code: 'untrusted_root' });
  });

  test('verifies under public-good and dev roots combined, and public-good signatures still verify there', () => {
    const combined = combineTrust(publicGoodTrust(), trust);
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust: combined }).verified).toBe(true);
    const vector = path.join(VECTORS_DIR, '02-msg-v0.3-happy');
    const expected = JSON.parse(readFileSync(path.join(vector, 'expect.json'), 'utf8')) as { san: string; issuer: string };
    const verdict = verifyBundle({
      bundle: readFileSync(path.join(vector, 'bundle.json'), 'utf8'),
      artifact: readFileSync(path.join(vector, 'artifact')),
      policy: { identity_regexp: escapeRegExp(expected.san), issuer_regexp: escapeRegExp(expected.issuer) },
      trust: combined,
    });
    expect(verdict).toMatchObject({ verified: true, signer_identity: expected.san });
  });

  test('refuses a certificate from another dev Sigstore', () => {
    const bundle = otherDev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'untrusted_root' });
  });
});

describe('image signatures (DSSE in-toto statement naming the manifest digest)', () => {
  const policy: IdentityPolicy = {
    identity_regexp: 'https://github\\.com/acme/redis-module/\\.github/workflows/build\\.yaml@refs/tags/v.*',
    issuer_regexp: escapeRegExp(GITHUB),
  };

  test('verifies against the manifest digest', () => {
    const bundle = dev.sign({ subject: { digest: artifactDigest, name: 'registry.local/acme/redis' }, identity: WORKFLOW, issuer: GITHUB });
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, policy, trust })).toMatchObject({
      verified: true,
      signer_identity: WORKFLOW,
      signer_issuer: GITHUB,
    });
    expect(verifyBundle({ bundle, artifact, policy, trust }).verified).toBe(true);
  });

  test('can insist on the image-signature predicate type, so another attestation of the image does not pass', () => {
    const bundle = dev.sign({ subject: { digest: artifactDigest }, identity: WORKFLOW, issuer: GITHUB });
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, predicateType: COSIGN_SIGN_PREDICATE_TYPE, policy, trust }).verified).toBe(true);
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, predicateType: 'https://slsa.dev/provenance/v1', policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'payload_invalid',
    });
    expect(verifyBundle({ bundle, predicateType: 'https://slsa.dev/provenance/v1', policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'payload_invalid',
    });
  });

  test('verifies without an artifact (the envelope alone), as verify-blob allows for DSSE', () => {
    const bundle = dev.sign({ subject: { digest: artifactDigest }, identity: WORKFLOW, issuer: GITHUB });
    expect(verifyBundle({ bundle, policy, trust }).verified).toBe(true);
  });

  test('refuses another manifest digest', () => {
    const bundle = dev.sign({ subject: { digest: artifactDigest }, identity: WORKFLOW, issuer: GITHUB });
    const other = `sha256:${'1'.repeat(64)}`;
    expect(verifyBundle({ bundle, artifact: { digest: other }, policy, trust })).toMatchObject({ verified: false, reason_code: 'subject_digest_mismatch' });
  });

  test('refuses a tampered statement', () => {
    const bundle = jsonCopy(dev.sign({ subject: { digest: artifactDigest }, identity: WORKFLOW, issuer: GITHUB })) as SerializedBundle & {
      dsseEnvelope: { payload: string };
    };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { subject: { digest: { sha256: string } }[] };
    statement.subject[0]!.digest.sha256 = '2'.repeat(64);
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    expect(verifyBundle({ bundle, artifact: { digest: `sha256:${'2'.repeat(64)}` }, policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'signature_invalid',
    });
  });

  test('refuses a DSSE payload that is not an in-toto statement when an artifact is given', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const certificate = dev.issueSigningCertificate({ publicKey: key.publicKey, identity: WORKFLOW, issuer: GITHUB });
    const payload = Buffer.from('plain text');
    const payloadType = 'text/plain';
    const signature = sign('sha256', Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} plain text`), key.privateKey);
    const raw = toDSSEBundle({ artifact: payload, artifactType: payloadType, signature, certificate });
    const bundle = withWitnesses(raw, { rfc3161Timestamps: [dev.timestamp(signature)], tlogEntries: [] });
    expect(verifyBundle({ bundle, policy, trust }).verified).toBe(true);
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, policy, trust })).toMatchObject({
      verified: false,
      reason_code: 'subject_digest_mismatch',
    });
  });

  test('rejects a malformed subject digest at signing', () => {
    expect(() => dev.sign({ subject: { digest: 'sha256:ABC' }, identity: WORKFLOW, issuer: GITHUB })).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    );
  });
});

describe('policy patterns are anchored by the verifier', () => {
  const sign = (identity: string): SerializedBundle => dev.sign({ artifact, identity, issuer: GITHUB });
  const verdictFor = (identity: string, identity_regexp: string, issuer_regexp = escapeRegExp(GITHUB)): ReturnType<typeof verifyBundle> =>
    verifyBundle({ bundle: sign(identity), artifact, policy: { identity_regexp, issuer_regexp }, trust });

  test.each([
    ['suffix', `${WORKFLOW}.evil`, escapeRegExp(WORKFLOW)],
    ['prefix', `https://evil.example/${WORKFLOW}`, escapeRegExp(WORKFLOW)],
    ['alternation escaping the anchors', 'mallory-bob@example.com', 'alice@example\\.com|bob@example\\.com'],
    ['alternation, other side', 'alice@example.com.evil.io', 'alice@example\\.com|bob@example\\.com'],
    [
      'another repository under a prefix pattern',
      'https://github.com/acme-evil/redis-module/.github/workflows/build.yaml@refs/tags/v1',
      'https://github\\.com/acme/.*',
    ],
  ])('refuses a %s match', (_what, identity, pattern) => {
    expect(verdictFor(identity, pattern)).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
  });

  test.each([
    ['an exact escaped identity', WORKFLOW, escapeRegExp(WORKFLOW)],
    ['an alternation', 'bob@example.com', 'alice@example\\.com|bob@example\\.com'],
    ['a pattern its author already anchored', WORKFLOW, '^https://github\\.com/acme/redis-module/.+$'],
    ['a tag wildcard', WORKFLOW, 'https://github\\.com/acme/redis-module/\\.github/workflows/build\\.yaml@refs/tags/v[0-9.]+'],
  ])('accepts %s', (_what, identity, pattern) => {
    expect(verdictFor(identity, pattern)).toMatchObject({ verified: true, signer_identity: identity });
  });

  test('refuses an issuer that only starts like the policy issuer', () => {
    const bundle = dev.sign({ artifact, identity: WORKFLOW, issuer: `${GITHUB}.evil.io` });
    expect(verifyBundle({ bundle, artifact, policy: { identity_regexp: '.*', issuer_regexp: escapeRegExp(GITHUB) }, trust })).toMatchObject({
      verified: false,
      reason_code: 'issuer_mismatch',
    });
  });

  test.each([
    ['an invalid identity pattern', { identity_regexp: '(', issuer_regexp: '.*' }],
    ['an invalid issuer pattern', { identity_regexp: '.*', issuer_regexp: '[' }],
    ['an empty identity pattern', { identity_regexp: '', issuer_regexp: '.*' }],
    ['a missing issuer pattern', { identity_regexp: '.*' }],
    ['a public key that is not PEM', { public_key_pem: 'not a key' }],
    ['an RSA public key', { public_key_pem: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string }],
  ])('reports %s as policy_invalid', (_what, policy) => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: policy as IdentityPolicy, trust })).toMatchObject({ verified: false, reason_code: 'policy_invalid' });
  });
});

describe('bad input is a verdict, never an exception', () => {
  test.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty string', ''],
    ['blank text', '   '],
  ])('%s is signature_missing', (_what, bundle) => {
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'signature_missing' });
  });

  test.each([
    ['truncated JSON', '{"mediaType":'],
    ['an array', []],
    ['a number', 42],
    ['an unknown media type', { mediaType: 'application/json', verificationMaterial: {}, messageSignature: {} }],
    ['no content', { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] } }],
  ])('%s is bundle_malformed', (_what, bundle) => {
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'bundle_malformed' });
  });

  test('a v0.3 bundle carrying a certificate chain is bundle_malformed (v0.3 allows one certificate)', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    bundle.verificationMaterial.x509CertificateChain = { certificates: [bundle.verificationMaterial.certificate] };
    delete bundle.verificationMaterial.certificate;
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'bundle_malformed' });
  });

  test('an unparsable certificate is bundle_malformed', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    bundle.verificationMaterial.certificate.rawBytes = Buffer.from('garbage').toString('base64');
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'bundle_malformed' });
  });

  test('a message signature without its artifact is artifact_invalid', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'artifact_invalid' });
  });

  test.each(['sha1:abcd', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, 'd41d8cd98f00b204e9800998ecf8427e'])(
    'digest %s is artifact_invalid',
    (digest) => {
      const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
      expect(verifyBundle({ bundle, artifact: { digest }, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'artifact_invalid' });
    },
  );

  test('every reason code returned is in the closed set', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    const verdicts = [
      verifyBundle({ bundle: '{', artifact, policy: userPolicy, trust }),
      verifyBundle({ bundle, artifact: otherArtifact, policy: userPolicy, trust }),
      verifyBundle({ bundle, artifact, policy: { identity_regexp: 'nobody', issuer_regexp: '.*' }, trust }),
    ];
    for (const v of verdicts) {
      expect(v.verified).toBe(false);
      if (!v.verified) expect(VERIFICATION_REASON_CODES).toContain(v.reason_code);
    }
  });
});

describe('signing time and timestamps', () => {
  test('a certificate that had expired at the timestamped time is certificate_invalid', () => {
    const now = new Date();
    const bundle = assemble({ certAt: now, stampAt: new Date(now.getTime() + 60 * 60 * 1000) });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'certificate_invalid' });
  });

  test('a certificate not yet valid at the timestamped time is certificate_invalid', () => {
    const now = new Date();
    const bundle = assemble({ certAt: new Date(now.getTime() + 60 * 60 * 1000), stampAt: now });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'certificate_invalid' });
  });

  test('a certificate used within its ten minutes verifies, whatever the clock says now', () => {
    const now = new Date();
    const bundle = assemble({ certAt: now, stampAt: new Date(now.getTime() + 9 * 60 * 1000) });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust }).verified).toBe(true);
  });

  test('no timestamp at all is timestamp_missing', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] };
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_missing' });
    delete bundle.verificationMaterial.timestampVerificationData;
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_missing' });
  });

  test('a timestamp from an untrusted TSA is timestamp_invalid', () => {
    const bundle = assemble({ tsa: otherDev });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('a timestamp over other bytes than the signature is timestamp_invalid', () => {
    const bundle = assemble({ stampOver: Buffer.from('another signature') });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('a timestamp whose TSA signature was altered is timestamp_invalid', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    const token = Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64');
    token[token.length - 3]! ^= 0x01;
    bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp = token.toString('base64');
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('a timestamp whose time was changed is timestamp_invalid (the TSA signed the time)', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER, at: new Date('2030-01-02T03:04:05Z') })) as Record<string, any>;
    const token = Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64');
    const genTime = token.indexOf(Buffer.from('20300102030405Z'));
    expect(genTime).toBeGreaterThan(0);
    token.write('20300102030406Z', genTime, 'latin1');
    bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp = token.toString('base64');
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('a response whose status is not granted is timestamp_invalid', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    const token = Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64');
    // TimeStampResp ::= SEQUENCE (30 82 LL LL) { status SEQUENCE (30 03) { INTEGER (02 01) 00 } ... }
    expect(token.subarray(4, 9).toString('hex')).toBe('3003020100');
    token[8] = 2;
    bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp = token.toString('base64');
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'timestamp_invalid' });
  });

  test('a root that demands a transparency-log entry refuses a TSA-only bundle with tlog_missing', () => {
    const strict = parseTrustedRoot(dev.trustedRoot(), { name: 'dev-with-log', thresholds: { tlog: 1 } });
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust: strict })).toMatchObject({ verified: false, reason_code: 'tlog_missing' });
  });

  test('a root that demands an SCT refuses a certificate without one', () => {
    const strict = parseTrustedRoot(dev.trustedRoot(), { name: 'dev-with-ct', thresholds: { ctlog: 1 } });
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust: strict })).toMatchObject({ verified: false, reason_code: 'certificate_invalid' });
  });
});

describe('binding to the artifact', () => {
  test('a bundle whose recorded digest is not the artifact digest is artifact_digest_mismatch', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    bundle.messageSignature.messageDigest.digest = createHash('sha256').update(otherArtifact).digest('base64');
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'artifact_digest_mismatch' });
    expect(verifyBundle({ bundle, artifact: { digest: artifactDigest }, policy: userPolicy, trust })).toMatchObject({
      verified: false,
      reason_code: 'artifact_digest_mismatch',
    });
  });

  test('a swapped signature is signature_invalid', () => {
    const bundle = jsonCopy(dev.sign({ artifact, identity: USER, issuer: ISSUER })) as Record<string, any>;
    const other = dev.sign({ artifact: otherArtifact, identity: USER, issuer: ISSUER }) as Record<string, any>;
    bundle.messageSignature.signature = other.messageSignature.signature;
    // The timestamp no longer covers the signature either; whichever check runs first must refuse.
    const verdict = verifyBundle({ bundle, artifact, policy: userPolicy, trust });
    expect(verdict.verified).toBe(false);
    expect(['signature_invalid', 'timestamp_invalid']).toContain((verdict as { reason_code: string }).reason_code);
  });
});

describe('key pairs versus certificates', () => {
  test('a certificate bundle under a key policy is key_mismatch', () => {
    const bundle = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    const { publicKeyPem } = generateSigningKeyPair();
    expect(verifyBundle({ bundle, artifact, policy: { public_key_pem: publicKeyPem }, trust })).toMatchObject({ verified: false, reason_code: 'key_mismatch' });
  });

  test('a key-pair bundle under an identity policy is key_mismatch', async () => {
    const { privateKeyPem } = generateSigningKeyPair();
    const bundle = await signWithKey({ artifact, privateKeyPem });
    expect(verifyBundle({ bundle, artifact, policy: userPolicy, trust })).toMatchObject({ verified: false, reason_code: 'key_mismatch' });
  });
});

describe('single-bit damage anywhere that matters is refused, never thrown on', () => {
  /** A small deterministic generator, so a failure can be replayed. */
  function prng(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  }

  /**
   * Paths of base64 fields whose every bit is covered by a signature or a digest. For certificates that is
   * the TBSCertificate: the outer wrapper (algorithm copy, BIT STRING header) is not signed, and
   * @sigstore/core reads it leniently, as it does the unsigned envelope of RFC 3161 responses.
   */
  const PUBLIC_GOOD_FIELDS = [
    ['messageSignature', 'signature'],
    ['messageSignature', 'messageDigest', 'digest'],
    ['verificationMaterial', 'certificate', 'rawBytes'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionPromise', 'signedEntryTimestamp'],
    ['verificationMaterial', 'tlogEntries', 0, 'canonicalizedBody'],
    ['verificationMaterial', 'tlogEntries', 0, 'logId', 'keyId'],
    ['verificationMaterial', 'tlogEntries', 0, 'inclusionProof', 'hashes', 0],
  ] as const;
  const DEV_FIELDS = [
    ['messageSignature', 'signature'],
    ['messageSignature', 'messageDigest', 'digest'],
    ['verificationMaterial', 'certificate', 'rawBytes'],
  ] as const;

  function flipped(bundle: unknown, field: readonly (string | number)[], random: () => number): unknown {
    const copy = jsonCopy(bundle) as Record<string | number, any>;
    let holder: Record<string | number, any> = copy;
    for (const key of field.slice(0, -1)) holder = holder[key];
    const last = field[field.length - 1]!;
    const bytes = Buffer.from(holder[last] as string, 'base64');
    let [start, end] = [0, bytes.length];
    if (field.includes('rawBytes')) {
      const tbs = ASN1Obj.parseBuffer(bytes).subs[0]!.toDER();
      start = bytes.indexOf(tbs);
      end = start + tbs.length;
    }
    const bit = start * 8 + Math.floor(random() * (end - start) * 8);
    bytes[bit >> 3]! ^= 1 << (bit & 7);
    holder[last] = bytes.toString('base64');
    return copy;
  }

  test('a public-good bundle', () => {
    const vector = path.join(VECTORS_DIR, '02-msg-v0.3-happy');
    const original = JSON.parse(readFileSync(path.join(vector, 'bundle.json'), 'utf8')) as unknown;
    const vectorArtifact = readFileSync(path.join(vector, 'artifact'));
    const expected = JSON.parse(readFileSync(path.join(vector, 'expect.json'), 'utf8')) as { san: string; issuer: string };
    const policy = { identity_regexp: escapeRegExp(expected.san), issuer_regexp: escapeRegExp(expected.issuer) };
    const pg = publicGoodTrust();
    expect(verifyBundle({ bundle: original, artifact: vectorArtifact, policy, trust: pg }).verified).toBe(true);
    const random = prng(20261126);
    for (let i = 0; i < 60; i++) {
      const field = PUBLIC_GOOD_FIELDS[i % PUBLIC_GOOD_FIELDS.length]!;
      const verdict = verifyBundle({ bundle: flipped(original, field, random), artifact: vectorArtifact, policy, trust: pg });
      expect({ field: field.join('.'), verified: verdict.verified }).toEqual({ field: field.join('.'), verified: false });
      expect(VERIFICATION_REASON_CODES).toContain((verdict as { reason_code: string }).reason_code);
    }
  });

  test('a dev bundle', () => {
    const original = dev.sign({ artifact, identity: USER, issuer: ISSUER });
    const random = prng(7);
    for (let i = 0; i < 40; i++) {
      const field = DEV_FIELDS[i % DEV_FIELDS.length]!;
      const verdict = verifyBundle({ bundle: flipped(original, field, random), artifact, policy: userPolicy, trust });
      expect({ field: field.join('.'), verified: verdict.verified }).toEqual({ field: field.join('.'), verified: false });
    }
  });
});
