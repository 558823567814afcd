import { X509Certificate } from '@sigstore/core';
import { certificateSigner, COSIGN_ANNOTATIONS, type CertificateSigner } from '@powernode/sigstore';
import type { SignatureCandidate } from './signature-candidates.js';

const NO_SIGNER: CertificateSigner = { identity: undefined, issuer: undefined };

/**
 * The identity and issuer written in a candidate's signing certificate, read without verifying anything.
 * Only meaningful once verification showed the certificate chains to a trusted CA and signed the artifact
 * (an identity or issuer mismatch): then it tells the operator who did sign.
 */
export function claimedSigner(candidate: SignatureCandidate): CertificateSigner {
  try {
    switch (candidate.kind) {
      case 'sigstore_bundle': {
        const bundle = JSON.parse(Buffer.from(candidate.bundle).toString('utf8')) as {
          verificationMaterial?: { certificate?: { rawBytes?: unknown }; x509CertificateChain?: { certificates?: Array<{ rawBytes?: unknown }> } };
        };
        const material = bundle.verificationMaterial;
        const raw = material?.certificate?.rawBytes ?? material?.x509CertificateChain?.certificates?.[0]?.rawBytes;
        return typeof raw === 'string' ? certificateSigner(X509Certificate.parse(Buffer.from(raw, 'base64'))) : NO_SIGNER;
      }
      case 'cosign_legacy': {
        const pem = candidate.annotations[COSIGN_ANNOTATIONS.certificate];
        return pem === undefined || pem === '' ? NO_SIGNER : certificateSigner(X509Certificate.parse(pem));
      }
      case 'unreadable':
        return NO_SIGNER;
      default: {
        const unreachable: never = candidate;
        return unreachable;
      }
    }
  } catch {
    return NO_SIGNER;
  }
}
