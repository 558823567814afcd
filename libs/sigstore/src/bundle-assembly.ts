// Assembles v0.3 Sigstore bundles from a signature, the signer's key material and its witnesses
// (RFC 3161 timestamps, transparency-log entries). Pure: the signing and the witnessing happen elsewhere.
import { createHash } from 'node:crypto';
import { PowernodeError } from '@powernode/contracts';
import { dsse } from '@sigstore/core';
import { bundleToJSON, toDSSEBundle, toMessageSignatureBundle, type Bundle, type SerializedBundle, type TransparencyLogEntry } from '@sigstore/bundle';
import { COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE } from './artifact-binding.js';

export type { SerializedBundle } from '@sigstore/bundle';

/** Who signed: a certificate (DER) for keyless signatures, or a key hint for key pairs. */
export type SignerKeyMaterial = { type: 'certificate'; certificate: Buffer } | { type: 'public_key'; hint: string };

/** The evidence attached to a signature. */
export interface SignatureWitnesses {
  /** DER TimeStampResp structures over the signature bytes. */
  rfc3161Timestamps: Buffer[];
  tlogEntries: TransparencyLogEntry[];
}

/** Attaches witnesses to an unwitnessed bundle and serialises it. */
export function withWitnesses(bundle: Bundle, witnesses: SignatureWitnesses): SerializedBundle {
  bundle.verificationMaterial.tlogEntries = witnesses.tlogEntries;
  bundle.verificationMaterial.timestampVerificationData = {
    rfc3161Timestamps: witnesses.rfc3161Timestamps.map((signedTimestamp) => ({ signedTimestamp })),
  };
  return bundleToJSON(bundle);
}

function keyOptions(key: SignerKeyMaterial): { certificate?: Buffer; keyHint?: string } {
  switch (key.type) {
    case 'certificate':
      return { certificate: key.certificate };
    case 'public_key':
      return { keyHint: key.hint };
    default: {
      const unreachable: never = key;
      return unreachable;
    }
  }
}

/** What to sign: artifact bytes (a message signature, as `cosign sign-blob`) or an image digest (DSSE). */
export type SignContent = { artifact: Uint8Array } | { subject: StatementSubject };

/** The bytes to sign for some content, and how to wrap the resulting signature into a v0.3 bundle. */
export interface PreparedSignature {
  toBeSigned: Buffer;
  /** The bundle, still without witnesses (a transparency log needs its content to make an entry). */
  bundle(signature: Buffer, key: SignerKeyMaterial): Bundle;
}

/**
 * Prepares a signature. Artifact bytes give a message signature over them; a subject gives a DSSE
 * envelope around an in-toto statement with cosign's image-signature predicate, which names the image by
 * its manifest digest, so it can be signed (and verified) from the digest alone.
 */
export function prepareSignature(content: SignContent): PreparedSignature {
  if ('artifact' in content) {
    const artifact = Buffer.from(content.artifact);
    return {
      toBeSigned: artifact,
      bundle: (signature, key) => toMessageSignatureBundle({ digest: sha256Of(artifact), signature, ...keyOptions(key), certificateChain: false }),
    };
  }
  const payload = imageSignatureStatement(content.subject);
  return {
    toBeSigned: dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload),
    bundle: (signature, key) => toDSSEBundle({ artifact: payload, artifactType: IN_TOTO_PAYLOAD_TYPE, signature, ...keyOptions(key), certificateChain: false }),
  };
}

/** The subject of an image signature statement. */
export interface StatementSubject {
  /** `sha256:<hex>` of the signed thing (for an image: its manifest digest). */
  digest: string;
  /** What it is called (cosign puts the repository); may be empty. */
  name?: string;
}

/**
 * An in-toto v1 statement with cosign's image-signature predicate type: what cosign (v3 bundle format)
 * signs for a container image, and what can be signed knowing only the manifest digest.
 */
export function imageSignatureStatement(subject: StatementSubject): Buffer {
  const match = /^sha256:([0-9a-f]{64})$/.exec(subject.digest);
  if (match === null) {
    throw new PowernodeError(
      'validation_failed',
      `subject digest ${JSON.stringify(subject.digest)} is not sha256:<64 lowercase hex>; pass the image manifest digest`,
      {
        details: { field: 'subject_digest' },
      },
    );
  }
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: subject.name ?? '', digest: { sha256: match[1] } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
    }),
    'utf8',
  );
}

/** SHA-256 of bytes. */
export function sha256Of(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}
