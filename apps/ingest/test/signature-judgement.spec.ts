import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sha256Digest } from '@powernode/oci';
import { COSIGN_ANNOTATIONS, DevSigstore, type SerializedBundle, type SigstoreTrust } from '@powernode/sigstore';
import type { SignatureCandidate } from '../src/signature-candidates.js';
import { judgeSignatures, type TrustPolicy } from '../src/signature-judgement.js';

const ISSUER = 'https://token.actions.example.com';
const IDENTITY = 'https://gitea.example.com/acme/modules/demo/.gitea/workflows/build.yaml@refs/tags/v0.1.0';
const MANIFEST = Buffer.from(
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.powernode.module.v1"}',
);
const DIGEST = sha256Digest(MANIFEST);
const OTHER_DIGEST = sha256Digest(Buffer.from('another manifest'));

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const policyFor = (identity: string, issuer = ISSUER): TrustPolicy => ({ cosign_identity_regexp: escape(identity), cosign_issuer_regexp: escape(issuer) });
const candidate = (bundle: SerializedBundle | string, source = 'referrer sha256:test'): SignatureCandidate => ({
  kind: 'sigstore_bundle',
  source,
  bundle: Buffer.from(typeof bundle === 'string' ? bundle : JSON.stringify(bundle)),
});

let dir: string;
let dev: DevSigstore;
let stranger: DevSigstore;
let trust: SigstoreTrust;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pn-ingest-judge-'));
  dev = await DevSigstore.loadOrCreate(path.join(dir, 'trusted'));
  stranger = await DevSigstore.loadOrCreate(path.join(dir, 'untrusted'));
  trust = dev.trust();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const dsse = (signer: DevSigstore, identity = IDENTITY, issuer = ISSUER, digest = DIGEST) =>
  signer.sign({ subject: { digest, name: '127.0.0.1:5000/acme/demo' }, identity, issuer });
const message = (signer: DevSigstore, bytes: Buffer = MANIFEST, identity = IDENTITY) => signer.sign({ artifact: bytes, identity, issuer: ISSUER });

describe('judging the signatures of a manifest', () => {
  it('verifies a DSSE image-signature statement naming the manifest digest', () => {
    expect(judgeSignatures({ candidates: [candidate(dsse(dev))], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toEqual({
      status: 'verified',
      signer_identity: IDENTITY,
      signer_issuer: ISSUER,
      source: 'referrer sha256:test',
    });
  });

  it('verifies a message signature over the manifest bytes from the digest alone', () => {
    expect(judgeSignatures({ candidates: [candidate(message(dev))], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toMatchObject({
      status: 'verified',
      signer_identity: IDENTITY,
    });
  });

  it('says missing when there is nothing that claims to be a signature', () => {
    const judgement = judgeSignatures({ candidates: [], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust });
    expect(judgement).toMatchObject({ status: 'missing' });
    expect(judgement.status === 'missing' && judgement.reason).toContain(DIGEST);
  });

  it('says missing for a legacy cosign layer that carries no signature annotation', () => {
    const legacy: SignatureCandidate = { kind: 'cosign_legacy', source: 'sig tag', payload: Buffer.from('{}'), annotations: {} };
    expect(judgeSignatures({ candidates: [legacy], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toMatchObject({ status: 'missing' });
  });

  it.each([
    ['a DSSE statement about another manifest', () => candidate(dsse(dev, IDENTITY, ISSUER, OTHER_DIGEST)), 'subject_digest_mismatch'],
    ['a message signature over other bytes', () => candidate(message(dev, Buffer.from('not the manifest'))), 'signature_invalid'],
    ['a certificate from a CA nobody trusts', () => candidate(dsse(stranger)), 'untrusted_root'],
    ['bytes that are not a bundle', () => candidate('{"mediaType": "nonsense"}'), 'bundle_malformed'],
  ])('records %s as unverified, without naming an unproven signer', (_what, make, code) => {
    const judgement = judgeSignatures({ candidates: [make()], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust });
    expect(judgement).toMatchObject({ status: 'unverified', signer_identity: null, signer_issuer: null });
    expect(judgement.status === 'unverified' && judgement.verification_reason).toMatch(new RegExp(`^${code}: `));
  });

  it('names the signer when only the identity or the issuer fails the policy', () => {
    const other = 'https://gitea.example.com/evil/fork/.gitea/workflows/build.yaml@refs/heads/main';
    expect(judgeSignatures({ candidates: [candidate(dsse(dev, other))], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toMatchObject({
      status: 'unverified',
      signer_identity: other,
      signer_issuer: ISSUER,
      verification_reason: expect.stringMatching(/^identity_mismatch: /),
    });
    expect(
      judgeSignatures({ candidates: [candidate(dsse(dev))], manifestDigest: DIGEST, policy: policyFor(IDENTITY, 'https://other.example.com'), trust }),
    ).toMatchObject({
      status: 'unverified',
      signer_identity: IDENTITY,
      verification_reason: expect.stringMatching(/^issuer_mismatch: /),
    });
  });

  it.each([
    ['evil-user@example.com', false],
    ['user@example.com.evil.org', false],
    ['xuser@example.com', false],
    ['user@example.com', true],
  ])('anchors the pattern user@example\\.com: %s verified=%s', (identity, verified) => {
    const policy: TrustPolicy = { cosign_identity_regexp: 'user@example\\.com', cosign_issuer_regexp: escape(ISSUER) };
    expect(judgeSignatures({ candidates: [candidate(dsse(dev, identity))], manifestDigest: DIGEST, policy, trust }).status).toBe(
      verified ? 'verified' : 'unverified',
    );
  });

  it('anchors alternations too: a|b does not accept xa or bx', () => {
    const policy: TrustPolicy = { cosign_identity_regexp: 'a@example\\.com|b@example\\.com', cosign_issuer_regexp: escape(ISSUER) };
    for (const identity of ['xa@example.com', 'b@example.com.evil']) {
      expect(judgeSignatures({ candidates: [candidate(dsse(dev, identity))], manifestDigest: DIGEST, policy, trust }).status).toBe('unverified');
    }
    expect(judgeSignatures({ candidates: [candidate(dsse(dev, 'b@example.com'))], manifestDigest: DIGEST, policy, trust }).status).toBe('verified');
  });

  it('takes any one signature that verifies, whatever else is attached', () => {
    const candidates = [candidate(dsse(stranger), 'first'), candidate(dsse(dev, 'someone@else.example'), 'second'), candidate(dsse(dev), 'third')];
    expect(judgeSignatures({ candidates, manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toMatchObject({ status: 'verified', source: 'third' });
  });

  it('reports a signer mismatch before other failures, and counts the rest', () => {
    const candidates = [candidate(dsse(stranger), 'first'), candidate(dsse(dev, 'someone@else.example'), 'second')];
    const judgement = judgeSignatures({ candidates, manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust });
    expect(judgement).toMatchObject({ status: 'unverified', signer_identity: 'someone@else.example' });
    expect(judgement.status === 'unverified' && judgement.verification_reason).toMatch(/^identity_mismatch: .*\(1 other signature failed as well\)$/);
  });

  it('counts an attachment that could not be read as a failed signature, never as a verified one', () => {
    const unreadable: SignatureCandidate = { kind: 'unreadable', source: 'referrer sha256:bad', reason: 'the blob hashes to something else' };
    expect(judgeSignatures({ candidates: [unreadable], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust })).toEqual({
      status: 'unverified',
      signer_identity: null,
      signer_issuer: null,
      verification_reason: 'bundle_malformed: referrer sha256:bad cannot be read: the blob hashes to something else',
    });
    expect(judgeSignatures({ candidates: [unreadable, candidate(dsse(dev))], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust }).status).toBe(
      'verified',
    );
  });

  it('records an unusable policy pattern as the reason', () => {
    const judgement = judgeSignatures({
      candidates: [candidate(dsse(dev))],
      manifestDigest: DIGEST,
      policy: { cosign_identity_regexp: '(unclosed', cosign_issuer_regexp: '.*' },
      trust,
    });
    expect(judgement).toMatchObject({ status: 'unverified', verification_reason: expect.stringMatching(/^policy_invalid: /) });
  });

  it('judges a legacy cosign signature like a bundle: a dev certificate without a proven signing time does not verify', () => {
    const payload = Buffer.from(
      JSON.stringify({
        critical: { identity: { 'docker-reference': 'x' }, image: { 'docker-manifest-digest': OTHER_DIGEST }, type: 'cosign container image signature' },
        optional: null,
      }),
    );
    const bundle = message(dev, payload) as unknown as { messageSignature: { signature: string }; verificationMaterial: { certificate: { rawBytes: string } } };
    const pem = `-----BEGIN CERTIFICATE-----\n${bundle.verificationMaterial.certificate.rawBytes.replace(/(.{64})/g, '$1\n').trim()}\n-----END CERTIFICATE-----\n`;
    const legacy: SignatureCandidate = {
      kind: 'cosign_legacy',
      source: 'sig tag',
      payload,
      annotations: { [COSIGN_ANNOTATIONS.signature]: bundle.messageSignature.signature, [COSIGN_ANNOTATIONS.certificate]: pem },
    };
    const judgement = judgeSignatures({ candidates: [legacy], manifestDigest: DIGEST, policy: policyFor(IDENTITY), trust });
    // Legacy layers carry no RFC 3161 timestamp here and no Rekor entry, so the short-lived certificate cannot be judged.
    expect(judgement).toMatchObject({ status: 'unverified', verification_reason: expect.stringMatching(/^timestamp_missing: /) });
  });
});
