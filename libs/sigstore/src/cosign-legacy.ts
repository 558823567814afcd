// cosign's legacy (pre-bundle) image signatures: a manifest tagged `sha256-<digest>.sig` whose layer is
// the simple-signing payload and whose layer annotations hold the signature, the certificate and the Rekor
// signed entry timestamp. We rearrange those parts into a Sigstore bundle (nothing is re-signed) and verify
// that like any other, then check that the payload names the image being verified.
import { createHash, X509Certificate } from 'node:crypto';
import { PowernodeError } from '@powernode/contracts';
import type { SerializedBundle } from '@sigstore/bundle';
import { checkSimpleSigningPayload } from './artifact-binding.js';
import type { SignerPolicy } from './signer-policy.js';
import type { SigstoreTrust } from './trusted-root.js';
import { rejected, type SignatureVerdict } from './verdict.js';
import { verifyBundle } from './verify-bundle.js';

export const COSIGN_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
} as const;

/** Media type of the simple-signing payload layer. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** The layer of a legacy cosign signature manifest: the payload blob and the layer's annotations. */
export interface CosignLegacySignature {
  payload: Uint8Array;
  annotations: Readonly<Record<string, string>>;
}

/** The tag cosign's legacy scheme stores an image's signatures under: `sha256-<hex>.sig`. */
export function cosignSignatureTag(manifestDigest: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(manifestDigest);
  if (match === null) {
    throw new PowernodeError('validation_failed', `manifest digest ${JSON.stringify(manifestDigest)} is not sha256:<64 lowercase hex>`, {
      details: { field: 'manifest_digest' },
    });
  }
  return `sha256-${match[1]}.sig`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function malformed(why: string): PowernodeError {
  return new PowernodeError('validation_failed', `the cosign signature layer is malformed: ${why}`, { details: { format: 'cosign-legacy-oci' } });
}

interface RekorBundleAnnotation {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function parseRekorAnnotation(text: string): RekorBundleAnnotation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(`${COSIGN_ANNOTATIONS.bundle} is not JSON`);
  }
  const p = parsed as Partial<RekorBundleAnnotation> | null;
  const payload = p?.Payload;
  if (
    typeof p?.SignedEntryTimestamp !== 'string' ||
    !BASE64.test(p.SignedEntryTimestamp) ||
    payload === undefined ||
    typeof payload.body !== 'string' ||
    !BASE64.test(payload.body) ||
    !Number.isSafeInteger(payload.integratedTime) ||
    !Number.isSafeInteger(payload.logIndex) ||
    typeof payload.logID !== 'string' ||
    !/^[0-9a-f]{64}$/i.test(payload.logID)
  ) {
    throw malformed(`${COSIGN_ANNOTATIONS.bundle} lacks SignedEntryTimestamp or Payload {body, integratedTime, logIndex, logID}`);
  }
  return p as RekorBundleAnnotation;
}

/**
 * Converts a legacy cosign signature layer into a Sigstore bundle: v0.1 with the Rekor entry when the
 * layer has a `dev.sigstore.cosign/bundle` annotation (a signed entry timestamp, no inclusion proof),
 * else v0.3 with no log entry. The chain annotation is not needed: CAs come from the trusted root.
 * Throws `signature_missing` when the layer has no signature, `validation_failed` when it is malformed.
 */
export function bundleFromCosignLegacy(layer: CosignLegacySignature): SerializedBundle {
  const signature = layer.annotations[COSIGN_ANNOTATIONS.signature];
  if (signature === undefined || signature === '') {
    throw new PowernodeError('signature_missing', `the layer has no ${COSIGN_ANNOTATIONS.signature} annotation`, { details: { format: 'cosign-legacy-oci' } });
  }
  if (!BASE64.test(signature)) throw malformed(`${COSIGN_ANNOTATIONS.signature} is not base64`);
  const certificatePem = layer.annotations[COSIGN_ANNOTATIONS.certificate];
  let certificate: string | undefined;
  if (certificatePem !== undefined && certificatePem !== '') {
    try {
      certificate = Buffer.from(new X509Certificate(certificatePem).raw).toString('base64');
    } catch {
      throw malformed(`${COSIGN_ANNOTATIONS.certificate} is not a PEM certificate`);
    }
  }
  const rekorText = layer.annotations[COSIGN_ANNOTATIONS.bundle];
  const rekor = rekorText === undefined || rekorText === '' ? undefined : parseRekorAnnotation(rekorText);
  const messageSignature = {
    messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(layer.payload).digest('base64') },
    signature,
  };
  if (rekor === undefined) {
    return {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        ...(certificate === undefined ? { publicKey: { hint: '' } } : { certificate: { rawBytes: certificate } }),
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      messageSignature,
    } as unknown as SerializedBundle;
  }
  let body: { kind?: unknown; apiVersion?: unknown };
  try {
    body = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString('utf8')) as typeof body;
  } catch {
    throw malformed('the Rekor entry body is not base64 JSON');
  }
  if (typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') throw malformed('the Rekor entry body has no kind/apiVersion');
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      ...(certificate === undefined ? { publicKey: { hint: '' } } : { x509CertificateChain: { certificates: [{ rawBytes: certificate }] } }),
      tlogEntries: [
        {
          logIndex: String(rekor.Payload.logIndex),
          logId: { keyId: Buffer.from(rekor.Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: body.kind, version: body.apiVersion },
          integratedTime: String(rekor.Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: rekor.Payload.body,
        },
      ],
    },
    messageSignature,
  } as unknown as SerializedBundle;
}

export interface VerifyCosignLegacyInput extends CosignLegacySignature {
  /** Digest of the image manifest being verified (`sha256:<hex>`): the payload must name it. */
  manifestDigest: string;
  policy: SignerPolicy;
  trust: SigstoreTrust;
}

/** Verifies a legacy cosign image signature for a given image manifest digest. Never throws. */
export function verifyCosignLegacySignature(input: VerifyCosignLegacyInput): SignatureVerdict {
  let bundle: SerializedBundle;
  try {
    bundle = bundleFromCosignLegacy(input);
  } catch (cause) {
    const code = (cause as PowernodeError).code;
    return rejected(code === 'signature_missing' ? 'signature_missing' : 'bundle_malformed', (cause as Error).message);
  }
  const verdict = verifyBundle({ bundle, artifact: input.payload, policy: input.policy, trust: input.trust });
  if (!verdict.verified) return verdict;
  const check = checkSimpleSigningPayload(input.payload, input.manifestDigest);
  return check.ok ? verdict : rejected(check.code, check.reason);
}
