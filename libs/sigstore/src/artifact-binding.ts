// Ties a verified signature to the artifact being verified. @sigstore/verify proves that an envelope or a
// message was signed; it does not compare an in-toto subject or a cosign payload with the artifact at hand.
import { createHash } from 'node:crypto';

/** The artifact to verify: its bytes, or just its digest (`sha256:<hex>`) when the bytes are elsewhere. */
export type ArtifactInput = Uint8Array | { digest: string };

/** An artifact reduced to what verification needs. */
export interface ArtifactDigest {
  /** The bytes, when the caller gave them. */
  bytes: Buffer | undefined;
  /** SHA-256 of the artifact. */
  sha256: Buffer;
}

const SHA256_DIGEST = /^sha256:([0-9a-f]{64})$/;

/** Normalises an artifact input; undefined input stays undefined, a malformed digest is an error string. */
export function artifactDigest(input: ArtifactInput | undefined): ArtifactDigest | undefined | string {
  if (input === undefined) return undefined;
  if (input instanceof Uint8Array) {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return { bytes, sha256: createHash('sha256').update(bytes).digest() };
  }
  if (input === null || typeof input !== 'object' || typeof input.digest !== 'string') {
    return 'the artifact must be its bytes or {digest: "sha256:<hex>"}';
  }
  const match = SHA256_DIGEST.exec(input.digest);
  if (match === null) return `artifact digest ${JSON.stringify(input.digest)} is not sha256:<64 lowercase hex>`;
  return { bytes: undefined, sha256: Buffer.from(match[1]!, 'hex') };
}

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The predicate type cosign (v3, new bundle format) uses for a container image signature. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export type StatementCheck = { ok: true } | { ok: false; code: 'subject_digest_mismatch' | 'payload_invalid'; reason: string };

/**
 * Checks an in-toto statement (a DSSE payload): when `sha256` is given, a subject must carry it; when
 * `predicateType` is given, the statement must be of that type (an SBOM attestation about the same
 * image is not a signature of it).
 */
export function checkStatement(payloadType: string, payload: Buffer, expected: { sha256?: Buffer; predicateType?: string }): StatementCheck {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return {
      ok: false,
      code: expected.sha256 === undefined ? 'payload_invalid' : 'subject_digest_mismatch',
      reason: `the DSSE payload type is ${JSON.stringify(payloadType)}, not an in-toto statement, so it names no subject or predicate to check`,
    };
  }
  let statement: { subject?: unknown; predicateType?: unknown } | null;
  try {
    statement = JSON.parse(payload.toString('utf8')) as typeof statement;
  } catch {
    return { ok: false, code: 'payload_invalid', reason: 'the DSSE payload is not JSON' };
  }
  if (expected.predicateType !== undefined && statement?.predicateType !== expected.predicateType) {
    return {
      ok: false,
      code: 'payload_invalid',
      reason: `the statement's predicate type is ${JSON.stringify(statement?.predicateType)}, not ${JSON.stringify(expected.predicateType)}`,
    };
  }
  if (expected.sha256 === undefined) return { ok: true };
  const subjects = statement?.subject;
  if (!Array.isArray(subjects) || subjects.length === 0) return { ok: false, code: 'subject_digest_mismatch', reason: 'the in-toto statement has no subject' };
  const wanted = expected.sha256.toString('hex');
  const digests = subjects.map((s) => (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256);
  if (digests.some((d) => typeof d === 'string' && d.toLowerCase() === wanted)) return { ok: true };
  return {
    ok: false,
    code: 'subject_digest_mismatch',
    reason: `no in-toto subject has sha256:${wanted} (subjects: ${digests.map((d) => (typeof d === 'string' ? `sha256:${d}` : 'none')).join(', ')})`,
  };
}

/** The `type` a cosign simple-signing payload carries for a container image signature (legacy format). */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

export type SimpleSigningCheck =
  { ok: true; docker_reference: string | undefined } | { ok: false; code: 'payload_invalid' | 'payload_digest_mismatch'; reason: string };

/**
 * Checks a cosign simple-signing payload against the image manifest digest being verified: the signature
 * over the payload only counts for the image the payload names.
 */
export function checkSimpleSigningPayload(payload: Uint8Array, manifestDigest: string): SimpleSigningCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, code: 'payload_invalid', reason: 'the simple-signing payload is not JSON' };
  }
  const critical = (parsed as { critical?: unknown } | null)?.critical as
    { type?: unknown; image?: { 'docker-manifest-digest'?: unknown }; identity?: { 'docker-reference'?: unknown } } | undefined;
  if (critical === undefined || critical === null || typeof critical !== 'object') {
    return { ok: false, code: 'payload_invalid', reason: 'the simple-signing payload has no "critical" section' };
  }
  if (critical.type !== SIMPLE_SIGNING_TYPE && critical.type !== COSIGN_SIGN_PREDICATE_TYPE) {
    return { ok: false, code: 'payload_invalid', reason: `the simple-signing payload type is ${JSON.stringify(critical.type)}, not "${SIMPLE_SIGNING_TYPE}"` };
  }
  const signed = critical.image?.['docker-manifest-digest'];
  if (typeof signed !== 'string') {
    return { ok: false, code: 'payload_invalid', reason: 'the simple-signing payload has no critical.image.docker-manifest-digest' };
  }
  if (signed !== manifestDigest) {
    return { ok: false, code: 'payload_digest_mismatch', reason: `the signature is for image ${signed}, not ${manifestDigest}` };
  }
  const reference = critical.identity?.['docker-reference'];
  return { ok: true, docker_reference: typeof reference === 'string' ? reference : undefined };
}
