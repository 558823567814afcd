// Key-pair signing, compatible with `cosign sign-blob --key` / `cosign verify-blob --key`: ECDSA P-256
// with SHA-256 over the artifact, in a v0.3 bundle that carries a public-key hint instead of a certificate.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { PowernodeError } from '@powernode/contracts';
import { prepareSignature, withWitnesses, type SerializedBundle, type SignContent } from './bundle-assembly.js';
import { publicKeyFingerprint } from './signer-policy.js';
import type { TimestampAuthority } from './timestamp-authority.js';

export type SignWithKeyInput = SignContent & {
  /** PKCS#8 or SEC 1 PEM of a P-256 private key (encrypted PKCS#8 needs `passphrase`). */
  privateKeyPem: string;
  passphrase?: string;
  /**
   * Countersigns the signature with an RFC 3161 timestamp (e.g. the dev Sigstore or a remote TSA). Without
   * one the bundle proves no signing time; a key-pair policy accepts that, as `cosign --key` does offline.
   */
  timestampAuthority?: TimestampAuthority;
};

/** A fresh P-256 key pair as PEM (PKCS#8 private, SPKI public), as `cosign generate-key-pair` makes. */
export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

function readPrivateKey(pem: string, passphrase: string | undefined): KeyObject {
  if (/BEGIN ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY/.test(pem)) {
    throw new PowernodeError(
      'validation_failed',
      "cosign's encrypted key format is not supported: give a PKCS#8 PEM P-256 key (e.g. `openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt`) and import it into cosign with `cosign import-key-pair` if cosign must use it too",
      {
        details: { field: 'private_key' },
      },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (cause) {
    throw new PowernodeError(
      'validation_failed',
      `the private key cannot be read: ${(cause as Error).message}; give a PEM P-256 private key${passphrase === undefined ? ' (and its passphrase if it is encrypted)' : ' and its correct passphrase'}`,
      {
        cause,
        details: { field: 'private_key' },
      },
    );
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PowernodeError(
      'validation_failed',
      `the private key must be ECDSA P-256 (cosign's key type), got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim(),
      {
        details: { field: 'private_key' },
      },
    );
  }
  return key;
}

/** Signs with a key pair and returns a v0.3 bundle whose key hint is the public key's fingerprint. */
export async function signWithKey(input: SignWithKeyInput): Promise<SerializedBundle> {
  const privateKey = readPrivateKey(input.privateKeyPem, input.passphrase);
  const prepared = prepareSignature(input);
  const signature = sign('sha256', prepared.toBeSigned, privateKey);
  const hint = publicKeyFingerprint(createPublicKey(privateKey));
  const rfc3161Timestamps = input.timestampAuthority === undefined ? [] : [await input.timestampAuthority.timestamp(signature)];
  return withWitnesses(prepared.bundle(signature, { type: 'public_key', hint }), { rfc3161Timestamps, tlogEntries: [] });
}
