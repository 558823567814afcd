// Sigstore bundle verification by policy. Pure and synchronous: the trust material is loaded beforehand,
// nothing here reads a file, the network or the clock (certificates are judged at the signing time the
// bundle proves, never at "now").
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import { createHash } from 'node:crypto';
import { artifactDigest, checkStatement, type ArtifactDigest, type ArtifactInput } from './artifact-binding.js';
import { certificateSigner } from './certificate-identity.js';
import { prehashedCurveOf, verifyEcdsaPrehashed } from './ecdsa-prehashed.js';
import { compileSignerPolicy, type CompiledPolicy, type SignerPolicy } from './signer-policy.js';
import { rootsIssuing, type SigstoreTrust, type VerificationThresholds } from './trusted-root.js';
import { rejected, type RejectedSignature, type SignatureVerdict } from './verdict.js';

export interface VerifyBundleInput {
  /** The Sigstore bundle: parsed JSON, JSON text or bytes. */
  bundle: unknown;
  /**
   * What was signed. Required for a message signature (bytes, or `{digest}` for SHA-256 ECDSA signatures);
   * optional for DSSE, where, when given, an in-toto subject must carry its digest.
   */
  artifact?: ArtifactInput;
  /**
   * For DSSE bundles: the in-toto predicate type the statement must have (e.g. COSIGN_SIGN_PREDICATE_TYPE
   * for an image signature, so that another attestation about the same image does not pass for one).
   */
  predicateType?: string;
  policy: SignerPolicy;
  trust: SigstoreTrust;
}

const HASH_NAMES: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED]: 'sha256',
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
  [HashAlgorithm.SHA3_256]: 'sha3-256',
  [HashAlgorithm.SHA3_384]: 'sha3-384',
};

function parseBundle(raw: unknown): Bundle | RejectedSignature {
  let json = raw;
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) json = Buffer.from(raw).toString('utf8');
  if (typeof json === 'string') {
    if (json.trim() === '') return rejected('signature_missing', 'the signature bundle is empty');
    try {
      json = JSON.parse(json) as unknown;
    } catch (cause) {
      return rejected('bundle_malformed', `the bundle is not valid JSON: ${(cause as Error).message}`);
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return rejected('bundle_malformed', 'the bundle is not a JSON object');
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    const fields = (cause as { fields?: string[] }).fields;
    return rejected('bundle_malformed', `not a valid Sigstore bundle: ${(cause as Error).message}${fields?.length ? ` (${fields.join(', ')})` : ''}`);
  }
}

/** Maps a @sigstore/verify failure to our closed set of reasons. */
function rejectionFromLibrary(error: unknown): RejectedSignature {
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: unknown }).cause;
  const message = `${(error as Error).message ?? String(error)}${cause instanceof Error ? `: ${cause.message}` : ''}`;
  switch (code) {
    case 'SIGNATURE_ERROR':
      return rejected('signature_invalid', message);
    case 'CERTIFICATE_ERROR':
      return rejected('certificate_invalid', message);
    case 'PUBLIC_KEY_ERROR':
      return rejected('key_mismatch', message);
    case 'TLOG_ERROR':
      return rejected('tlog_missing', message);
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
    case 'TLOG_BODY_ERROR':
      return rejected('tlog_invalid', message);
    case 'TIMESTAMP_ERROR':
      return message.startsWith('expected') ? rejected('timestamp_missing', message) : rejected('timestamp_invalid', message);
    default:
      return rejected('bundle_malformed', `the bundle cannot be verified: ${message}`);
  }
}

/** Replaces the signature check of a message signature with one over a digest the caller supplies. */
function withPrehashedSignature(entity: SignedEntity, sha256: Buffer): { entity: SignedEntity; unsupportedKey: () => boolean } {
  const content = entity.signature;
  let unsupported = false;
  const signature: SignedEntity['signature'] = {
    signature: content.signature,
    compareSignature: (s) => content.compareSignature(s),
    compareDigest: (d) => content.compareDigest(d),
    verifySignature: (key) => {
      if (prehashedCurveOf(key) === undefined) {
        unsupported = true;
        return false;
      }
      return verifyEcdsaPrehashed(key, sha256, content.signature);
    },
  };
  return { entity: { ...entity, signature }, unsupportedKey: () => unsupported };
}

/** Earliest signing time the entity proves (RFC 3161 genTime or tlog integrated time with a promise). */
function earliestSigningTime(entity: SignedEntity): Date | undefined {
  const times = entity.timestamps.flatMap((t): Date[] => {
    switch (t.$case) {
      case 'timestamp-authority':
        return [t.timestamp.signingTime];
      case 'transparency-log':
        return t.tlogEntry.inclusionPromise ? [new Date(Number(t.tlogEntry.integratedTime) * 1000)] : [];
      default: {
        const unreachable: never = t;
        return unreachable;
      }
    }
  });
  return times.length === 0 ? undefined : new Date(Math.min(...times.map((d) => d.getTime())));
}

function strictest(thresholds: VerificationThresholds[]): VerificationThresholds {
  return {
    tlog: Math.max(...thresholds.map((t) => t.tlog)),
    ctlog: Math.max(...thresholds.map((t) => t.ctlog)),
    timestamp: Math.max(1, ...thresholds.map((t) => t.timestamp)),
  };
}

function runVerifier(material: TrustMaterial, thresholds: VerificationThresholds, entity: SignedEntity): RejectedSignature | undefined {
  try {
    // No policy is given to the library: it matches the SAN unanchored and the issuer exactly, so the
    // identity checks are ours (below), on anchored patterns.
    new Verifier(material, {
      tlogThreshold: thresholds.tlog,
      ctlogThreshold: thresholds.ctlog,
      timestampThreshold: thresholds.timestamp,
    }).verify(entity);
    return undefined;
  } catch (error) {
    return rejectionFromLibrary(error);
  }
}

/** Checks the bundle's own record of what was signed against the artifact being verified. */
function checkContentBinding(bundle: Bundle, artifact: ArtifactDigest | undefined, predicateType: string | undefined): RejectedSignature | undefined {
  switch (bundle.content.$case) {
    case 'messageSignature': {
      const recorded = bundle.content.messageSignature.messageDigest;
      const algorithm = HASH_NAMES[recorded.algorithm] ?? 'sha256';
      const actual = algorithm === 'sha256' || artifact?.bytes === undefined ? artifact?.sha256 : createHash(algorithm).update(artifact.bytes).digest();
      if (actual === undefined || !Buffer.from(recorded.digest).equals(actual)) {
        return rejected(
          'artifact_digest_mismatch',
          `the bundle records ${algorithm}:${Buffer.from(recorded.digest).toString('hex')} as the signed digest, but the artifact's is ${algorithm}:${actual?.toString('hex')}`,
        );
      }
      return undefined;
    }
    case 'dsseEnvelope': {
      if (artifact === undefined && predicateType === undefined) return undefined;
      const envelope = bundle.content.dsseEnvelope;
      const check = checkStatement(envelope.payloadType, Buffer.from(envelope.payload), { sha256: artifact?.sha256, predicateType });
      return check.ok ? undefined : rejected(check.code, check.reason);
    }
    default: {
      const unreachable: never = bundle.content;
      return unreachable;
    }
  }
}

function acceptedIdentity(
  policy: Extract<CompiledPolicy, { type: 'identity' }>,
  identity: string | undefined,
  issuer: string | undefined,
): RejectedSignature | undefined {
  if (identity === undefined) return rejected('identity_mismatch', 'the signing certificate names no identity (no SAN URI or e-mail)');
  if (!policy.identity.test(identity)) {
    return rejected('identity_mismatch', `signer identity ${JSON.stringify(identity)} does not match ^(?:${policy.source.identity_regexp})$`);
  }
  if (issuer === undefined) return rejected('issuer_mismatch', 'the signing certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 / .1.1)');
  if (!policy.issuer.test(issuer)) {
    return rejected('issuer_mismatch', `signer issuer ${JSON.stringify(issuer)} does not match ^(?:${policy.source.issuer_regexp})$`);
  }
  return undefined;
}

/**
 * Verifies a Sigstore bundle against a signer policy and trusted roots: signature, certificate chain at
 * the signing time, timestamps, transparency-log entries, the binding to the artifact, then the signer's
 * identity and issuer (anchored patterns) or key. Never throws: every failure is a verdict.
 */
export function verifyBundle(input: VerifyBundleInput): SignatureVerdict {
  try {
    return judgeBundle(input);
  } catch (error) {
    // Hostile input must not crash a consumer: whatever a parser trips over is a malformed bundle.
    return rejected('bundle_malformed', `the bundle cannot be verified: ${(error as Error).message ?? String(error)}`);
  }
}

function judgeBundle(input: VerifyBundleInput): SignatureVerdict {
  if (input.bundle === undefined || input.bundle === null) return rejected('signature_missing', 'no signature bundle was given');
  const bundle = parseBundle(input.bundle);
  if ('verified' in bundle) return bundle;

  const compiled = compileSignerPolicy(input.policy);
  if (!compiled.ok) return rejected('policy_invalid', compiled.reason);
  const policy = compiled.policy;

  const artifact = artifactDigest(input.artifact);
  if (typeof artifact === 'string') return rejected('artifact_invalid', artifact);
  const isMessage = bundle.content.$case === 'messageSignature';
  if (isMessage && artifact === undefined) {
    return rejected('artifact_invalid', 'a message-signature bundle signs the artifact itself: give its bytes or its sha256 digest');
  }
  const digestOnly = isMessage && artifact !== undefined && artifact.bytes === undefined;
  if (digestOnly && bundle.content.$case === 'messageSignature') {
    const algorithm = bundle.content.messageSignature.messageDigest.algorithm;
    if (HASH_NAMES[algorithm] !== 'sha256') {
      return rejected(
        'artifact_invalid',
        `the bundle signs a ${HASH_NAMES[algorithm] ?? 'non-SHA-256'} digest: give the artifact bytes, not its sha256 digest`,
      );
    }
  }

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, artifact?.bytes);
  } catch (cause) {
    return rejected('bundle_malformed', `the bundle's certificate or timestamp cannot be parsed: ${(cause as Error).message}`);
  }
  for (const t of entity.timestamps) {
    // A token only counts when the TSA granted it (RFC 3161 §2.4.2: granted or grantedWithMods).
    if (t.$case === 'timestamp-authority' && t.timestamp.status !== 0n && t.timestamp.status !== 1n) {
      return rejected('timestamp_invalid', `an RFC 3161 response has status ${t.timestamp.status}, not granted`);
    }
  }
  let unsupportedKey = (): boolean => false;
  if (digestOnly && artifact !== undefined) ({ entity, unsupportedKey } = withPrehashedSignature(entity, artifact.sha256));

  let verified: { kind: 'certificate'; identity: string; issuer: string } | { kind: 'public_key'; keyId: string };
  switch (entity.key.$case) {
    case 'certificate': {
      if (policy.type !== 'identity') {
        return rejected('key_mismatch', 'the bundle is signed with a certificate, but the policy expects a key-pair signature (public_key_pem)');
      }
      const leaf = entity.key.certificate;
      const issuing = rootsIssuing(input.trust, leaf);
      if (issuing.length === 0) {
        return rejected(
          'untrusted_root',
          `the signing certificate was not issued by any trusted certificate authority (roots: ${input.trust.roots.map((r) => r.name).join(', ')})`,
        );
      }
      const provable = entity.timestamps.filter((t) => t.$case === 'timestamp-authority' || t.tlogEntry.inclusionPromise !== undefined);
      if (provable.length === 0) {
        return rejected(
          'timestamp_missing',
          'the bundle proves no signing time (no RFC 3161 timestamp, no transparency-log entry with a signed entry timestamp), so its short-lived certificate cannot be checked',
        );
      }
      const failure = runVerifier(input.trust.material, strictest(issuing.map((r) => r.thresholds)), entity);
      if (failure !== undefined)
        return unsupportedKey() ? rejected('artifact_invalid', 'this signing key cannot be checked against a digest alone: give the artifact bytes') : failure;
      const binding = checkContentBinding(bundle, artifact, input.predicateType);
      if (binding !== undefined) return binding;
      const signer = certificateSigner(leaf);
      const mismatch = acceptedIdentity(policy, signer.identity, signer.issuer);
      if (mismatch !== undefined) return mismatch;
      verified = { kind: 'certificate', identity: signer.identity!, issuer: signer.issuer! };
      break;
    }
    case 'public-key': {
      if (policy.type !== 'key') {
        return rejected('key_mismatch', 'the bundle is signed with a bare public key, but the policy requires a certificate identity and issuer');
      }
      const material: TrustMaterial = {
        ...input.trust.material,
        // The bundle's key hint is only a hint: the policy's key is the one that must verify.
        publicKey: () => ({ publicKey: policy.publicKey, validFor: () => true }),
      };
      const failure = runVerifier(material, { tlog: 0, ctlog: 0, timestamp: 0 }, entity);
      if (failure !== undefined) {
        if (unsupportedKey()) return rejected('artifact_invalid', 'this signing key cannot be checked against a digest alone: give the artifact bytes');
        return failure.reason_code === 'signature_invalid'
          ? rejected('signature_invalid', `the signature does not verify with the policy's key ${policy.keyId}`)
          : failure;
      }
      const binding = checkContentBinding(bundle, artifact, input.predicateType);
      if (binding !== undefined) return binding;
      verified = { kind: 'public_key', keyId: policy.keyId };
      break;
    }
    default: {
      const unreachable: never = entity.key;
      return unreachable;
    }
  }

  const signedAt = earliestSigningTime(entity);
  return {
    verified: true,
    signer_kind: verified.kind,
    signer_identity: verified.kind === 'certificate' ? verified.identity : verified.keyId,
    signer_issuer: verified.kind === 'certificate' ? verified.issuer : null,
    signed_at: signedAt === undefined ? null : signedAt.toISOString(),
  };
}
