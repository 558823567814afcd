/**
 * Why a signature was not accepted. A closed set: consumers store the code (e.g. on a rejected module
 * version) and switch on it; the accompanying `reason` is for people.
 */
export const VERIFICATION_REASON_CODES = [
  /** No bundle at all (absent, null, empty), or a legacy signature without its signature annotation. */
  'signature_missing',
  /** The bundle is not valid JSON or not a valid Sigstore bundle for its declared media type. */
  'bundle_malformed',
  /** A message-signature bundle was given no artifact, or the artifact digest is not `sha256:<64 hex>`. */
  'artifact_invalid',
  /** The policy's regular expression or public key cannot be used. */
  'policy_invalid',
  /** The signature does not verify over the artifact (or the DSSE envelope) with the signer's key. */
  'signature_invalid',
  /** The bundle's recorded message digest is not the digest of the artifact being verified. */
  'artifact_digest_mismatch',
  /** No in-toto subject of the DSSE statement has the artifact's digest. */
  'subject_digest_mismatch',
  /** A cosign simple-signing payload names another image (docker-manifest-digest) than the one verified. */
  'payload_digest_mismatch',
  /** A cosign simple-signing payload or a DSSE statement is not JSON or not of the expected (predicate) type. */
  'payload_invalid',
  /** The signing certificate was not issued by any certificate authority in the trusted roots. */
  'untrusted_root',
  /** The certificate chain fails at the signing time (expired, not yet valid, not a CA, missing SCT). */
  'certificate_invalid',
  /** The key that signed is not the kind or the key the policy accepts. */
  'key_mismatch',
  /** Nothing attests when the signature was made: no RFC 3161 timestamp and no transparency-log promise. */
  'timestamp_missing',
  /** An RFC 3161 timestamp does not verify against a trusted timestamp authority. */
  'timestamp_invalid',
  /** The trusted root requires a transparency-log entry and the bundle has none. */
  'tlog_missing',
  /** A transparency-log entry fails: bad signed entry timestamp, inclusion proof, checkpoint or body. */
  'tlog_invalid',
  /** The certificate's identity (SAN) does not match the policy's identity pattern. */
  'identity_mismatch',
  /** The certificate's OIDC issuer does not match the policy's issuer pattern. */
  'issuer_mismatch',
] as const;

export type VerificationReasonCode = (typeof VERIFICATION_REASON_CODES)[number];

/** What a verified signature proves: who signed and when. */
export interface VerifiedSignature {
  verified: true;
  /** `certificate` for Fulcio-style identities, `public_key` for key pairs. */
  signer_kind: 'certificate' | 'public_key';
  /** The certificate SAN (URI or e-mail), or `sha256:<hex>` of the public key's SPKI for key pairs. */
  signer_identity: string;
  /** The OIDC issuer from the certificate's Fulcio extension; null for key pairs. */
  signer_issuer: string | null;
  /** ISO-8601 time of the earliest verified timestamp; null when a key-pair bundle has none. */
  signed_at: string | null;
}

export interface RejectedSignature {
  verified: false;
  reason_code: VerificationReasonCode;
  reason: string;
}

/** The outcome of a verification: never thrown, always returned. */
export type SignatureVerdict = VerifiedSignature | RejectedSignature;

/** Builds a rejection verdict. */
export function rejected(reason_code: VerificationReasonCode, reason: string): RejectedSignature {
  return { verified: false, reason_code, reason };
}
