// Every case in the reference vector folder, judged as its expect.json says.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { bundleFromCosignLegacy, verifyCosignLegacySignature } from './cosign-legacy.js';
import { escapeRegExp, publicGoodTrust, VECTORS_DIR } from './sigstore-fixtures.test-support.js';
import type { IdentityPolicy } from './signer-policy.js';
import type { VerificationReasonCode } from './verdict.js';
import { verifyBundle } from './verify-bundle.js';

interface Expectation {
  valid: boolean;
  san: string;
  issuer: string;
  policy?: { san_regexp: string; issuer_regexp: string };
  format?: string;
  why: string;
}

/** The reason our verifier gives for each failing vector (the README lists the library's failure codes). */
const EXPECTED_REASONS: Record<string, VerificationReasonCode> = {
  '04-msg-tampered-artifact': 'signature_invalid',
  '05-msg-v0.2-policy-san-mismatch': 'identity_mismatch',
  '06-msg-inclusion-proof-corrupted': 'tlog_invalid',
};

const cases = readdirSync(VECTORS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(path.join(VECTORS_DIR, e.name, 'expect.json')))
  .map((e) => {
    const dir = path.join(VECTORS_DIR, e.name);
    const expect = JSON.parse(readFileSync(path.join(dir, 'expect.json'), 'utf8')) as Expectation;
    return { name: e.name, dir, expect };
  });

const trust = publicGoodTrust();

function exactPolicy(e: Expectation): IdentityPolicy {
  return { identity_regexp: escapeRegExp(e.san), issuer_regexp: escapeRegExp(e.issuer) };
}

function policyFor(e: Expectation): IdentityPolicy {
  return e.policy === undefined ? exactPolicy(e) : { identity_regexp: e.policy.san_regexp, issuer_regexp: e.policy.issuer_regexp };
}

function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('public-good Sigstore vectors', () => {
  test('the folder holds every documented case', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining(['01-msg-v0.1-happy', '03-dsse-intoto-v0.3-happy', '06-msg-inclusion-proof-corrupted', '07-cosign-legacy-oci-keyless']),
    );
    expect(cases.length).toBeGreaterThanOrEqual(7);
  });

  describe.each(cases)('$name', ({ name, dir, expect: e }) => {
    const bundle = readFileSync(path.join(dir, 'bundle.json'), 'utf8');
    const artifact = readFileSync(path.join(dir, 'artifact'));

    test(`is judged ${e.valid ? 'verified' : 'not verified'} (${e.why})`, () => {
      const verdict = verifyBundle({ bundle, artifact, policy: policyFor(e), trust });
      expect(verdict.verified).toBe(e.valid);
      if (verdict.verified) {
        expect(verdict.signer_kind).toBe('certificate');
        expect(verdict.signer_identity).toBe(e.san);
        expect(verdict.signer_issuer).toBe(e.issuer);
        expect(verdict.signed_at).toMatch(/^20\d\d-\d\d-\d\dT/);
      } else if (EXPECTED_REASONS[name] !== undefined) {
        expect(verdict.reason_code).toBe(EXPECTED_REASONS[name]);
        expect(verdict.reason.length).toBeGreaterThan(0);
      }
    });

    test('gets the same verdict from the artifact digest alone', () => {
      const verdict = verifyBundle({ bundle, artifact: { digest: sha256Digest(artifact) }, policy: policyFor(e), trust });
      expect(verdict.verified).toBe(e.valid);
      if (!verdict.verified && EXPECTED_REASONS[name] !== undefined) expect(verdict.reason_code).toBe(EXPECTED_REASONS[name]);
    });

    if (e.policy !== undefined) {
      test('fails only because of the policy: it verifies with its real identity and issuer', () => {
        const verdict = verifyBundle({ bundle, artifact, policy: exactPolicy(e), trust });
        expect(verdict).toMatchObject({ verified: true, signer_identity: e.san, signer_issuer: e.issuer });
      });
    }

    if (e.valid) {
      test('is refused for another identity, even one that contains the real one', () => {
        const verdict = verifyBundle({
          bundle,
          artifact,
          policy: { identity_regexp: `x${escapeRegExp(e.san)}`, issuer_regexp: escapeRegExp(e.issuer) },
          trust,
        });
        expect(verdict).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
        const prefix = verifyBundle({
          bundle,
          artifact,
          policy: { identity_regexp: escapeRegExp(e.san.slice(0, -1)), issuer_regexp: escapeRegExp(e.issuer) },
          trust,
        });
        expect(prefix).toMatchObject({ verified: false, reason_code: 'identity_mismatch' });
      });

      test('is refused for another issuer, even a prefix of the real one', () => {
        const verdict = verifyBundle({
          bundle,
          artifact,
          policy: { identity_regexp: escapeRegExp(e.san), issuer_regexp: escapeRegExp(e.issuer.slice(0, -1)) },
          trust,
        });
        expect(verdict).toMatchObject({ verified: false, reason_code: 'issuer_mismatch' });
      });
    }

    if (e.format === 'cosign-legacy-oci') {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'oci-signature-manifest.json'), 'utf8')) as {
        layers: { digest: string; size: number; annotations: Record<string, string> }[];
      };
      const layer = manifest.layers[0]!;
      const imageDigest = (JSON.parse(artifact.toString('utf8')) as { critical: { image: { 'docker-manifest-digest': string } } }).critical.image[
        'docker-manifest-digest'
      ];

      test('the payload is the signature layer blob', () => {
        expect(sha256Digest(artifact)).toBe(layer.digest);
        expect(artifact.length).toBe(layer.size);
      });

      test('the layer annotations convert to exactly the documented bundle', () => {
        expect(bundleFromCosignLegacy({ payload: artifact, annotations: layer.annotations })).toEqual(JSON.parse(bundle));
      });

      test('verifies as a signature of the image the payload names', () => {
        const verdict = verifyCosignLegacySignature({
          payload: artifact,
          annotations: layer.annotations,
          manifestDigest: imageDigest,
          policy: policyFor(e),
          trust,
        });
        expect(verdict).toMatchObject({ verified: true, signer_identity: e.san, signer_issuer: e.issuer });
      });

      test('is refused for another image', () => {
        const other = `sha256:${'0'.repeat(64)}`;
        const verdict = verifyCosignLegacySignature({ payload: artifact, annotations: layer.annotations, manifestDigest: other, policy: policyFor(e), trust });
        expect(verdict).toMatchObject({ verified: false, reason_code: 'payload_digest_mismatch' });
      });

      test('is refused when one character of the payload image digest changes', () => {
        const text = artifact.toString('utf8');
        const tampered = Buffer.from(
          text.replace(/("docker-manifest-digest":"sha256:)([0-9a-f])/, (_m, p: string, c: string) => `${p}${c === '0' ? '1' : '0'}`),
        );
        expect(tampered.equals(artifact)).toBe(false);
        const tamperedDigest = (JSON.parse(tampered.toString('utf8')) as { critical: { image: { 'docker-manifest-digest': string } } }).critical.image[
          'docker-manifest-digest'
        ];
        const verdict = verifyCosignLegacySignature({
          payload: tampered,
          annotations: layer.annotations,
          manifestDigest: tamperedDigest,
          policy: policyFor(e),
          trust,
        });
        // The Rekor entry records the original payload's hash, so the log entry is the first thing to disagree.
        expect(verdict).toMatchObject({ verified: false, reason_code: 'tlog_invalid' });
        const bare = verifyBundle({ bundle, artifact: tampered, policy: policyFor(e), trust });
        expect(bare).toMatchObject({ verified: false, reason_code: 'signature_invalid' });
      });
    }
  });
});
