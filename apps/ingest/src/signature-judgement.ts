import {
  COSIGN_SIGN_PREDICATE_TYPE,
  rejected,
  verifyBundle,
  verifyCosignLegacySignature,
  type RejectedSignature,
  type SignatureVerdict,
  type SigstoreTrust,
  type VerificationReasonCode,
} from '@powernode/sigstore';
import type { SignatureCandidate } from './signature-candidates.js';
import { claimedSigner } from './signing-certificate.js';

/** A module's trust policy: who must have signed. Patterns are anchored by the verifier. */
export interface TrustPolicy {
  cosign_identity_regexp: string;
  cosign_issuer_regexp: string;
}

/** What the signatures of a manifest amount to under a trust policy. */
export type SignatureJudgement =
  /** Nothing that even claims to be a signature. */
  | { status: 'missing'; reason: string }
  | { status: 'verified'; signer_identity: string; signer_issuer: string | null; source: string }
  /**
   * Signatures exist but none satisfies the policy. The signer is named only when the certificate was proven
   * (chain, timestamp, signature over this manifest) and merely failed the identity or issuer pattern.
   */
  | { status: 'unverified'; signer_identity: string | null; signer_issuer: string | null; verification_reason: string };

export interface JudgeSignaturesInput {
  candidates: readonly SignatureCandidate[];
  /** The manifest digest the signatures must be about (`sha256:<hex>`). */
  manifestDigest: string;
  policy: TrustPolicy;
  trust: SigstoreTrust;
}

/** Failures where the signature is sound and only the signer is not the one the policy names. */
const SIGNER_MISMATCHES: readonly VerificationReasonCode[] = ['identity_mismatch', 'issuer_mismatch'];

function verdictOf(candidate: SignatureCandidate, input: JudgeSignaturesInput): SignatureVerdict {
  const policy = { identity_regexp: input.policy.cosign_identity_regexp, issuer_regexp: input.policy.cosign_issuer_regexp };
  switch (candidate.kind) {
    case 'sigstore_bundle':
      // A DSSE bundle must be cosign's image signature naming this manifest, not some other attestation about it.
      return verifyBundle({
        bundle: candidate.bundle,
        artifact: { digest: input.manifestDigest },
        predicateType: COSIGN_SIGN_PREDICATE_TYPE,
        policy,
        trust: input.trust,
      });
    case 'cosign_legacy':
      return verifyCosignLegacySignature({
        payload: candidate.payload,
        annotations: candidate.annotations,
        manifestDigest: input.manifestDigest,
        policy,
        trust: input.trust,
      });
    case 'unreadable':
      return rejected('bundle_malformed', `${candidate.source} cannot be read: ${candidate.reason}`);
    default: {
      const unreachable: never = candidate;
      return unreachable;
    }
  }
}

/**
 * Verifies every signature found for a manifest against the module's policy and trusted roots (pure, no I/O):
 * one that verifies makes the version verified; otherwise the most telling failure is reported, a signer
 * mismatch first since that is what an operator fixes by editing the policy.
 */
export function judgeSignatures(input: JudgeSignaturesInput): SignatureJudgement {
  const judged = input.candidates.map((candidate) => ({ candidate, verdict: verdictOf(candidate, input) }));
  for (const { candidate, verdict } of judged) {
    if (verdict.verified)
      return { status: 'verified', signer_identity: verdict.signer_identity, signer_issuer: verdict.signer_issuer, source: candidate.source };
  }
  const failures: Array<{ candidate: SignatureCandidate; verdict: RejectedSignature }> = [];
  for (const { candidate, verdict } of judged) {
    // A legacy signature layer without its signature annotation is no signature at all.
    if (!verdict.verified && verdict.reason_code !== 'signature_missing') failures.push({ candidate, verdict });
  }
  if (failures.length === 0) {
    return {
      status: 'missing',
      reason:
        judged.length === 0
          ? `no signature for ${input.manifestDigest}: no Sigstore bundle is attached as a referrer and there is no cosign sha256-<hex>.sig tag; sign the artifact (powernode module sign) and publish again`
          : `the cosign signature manifest for ${input.manifestDigest} carries no signature; sign the artifact again`,
    };
  }
  const telling = failures.find((f) => SIGNER_MISMATCHES.includes(f.verdict.reason_code)) ?? failures[0]!;
  const signer = SIGNER_MISMATCHES.includes(telling.verdict.reason_code) ? claimedSigner(telling.candidate) : { identity: undefined, issuer: undefined };
  const others = failures.length - 1;
  return {
    status: 'unverified',
    signer_identity: signer.identity ?? null,
    signer_issuer: signer.issuer ?? null,
    verification_reason: `${telling.verdict.reason_code}: ${telling.verdict.reason}${others > 0 ? ` (${others} other signature${others === 1 ? '' : 's'} failed as well)` : ''}`,
  };
}
