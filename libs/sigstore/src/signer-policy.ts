import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { compileTrustPattern, type TrustPattern } from './trust-pattern.js';

/**
 * Keyless policy, as cosign's `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp`.
 * Both patterns (RE2 syntax) must match the whole value: we anchor them, whatever the author wrote.
 */
export interface IdentityPolicy {
  identity_regexp: string;
  issuer_regexp: string;
}

/** Key-pair policy, as cosign's `--key`: the bundle must be signed by this public key (PEM, SPKI). */
export interface KeyPolicy {
  public_key_pem: string;
}

export type SignerPolicy = IdentityPolicy | KeyPolicy;

/** A policy ready to apply: patterns compiled (linear-time) and anchored, key parsed. */
export type CompiledPolicy =
  { type: 'identity'; identity: TrustPattern; issuer: TrustPattern; source: IdentityPolicy } | { type: 'key'; publicKey: KeyObject; keyId: string };

export type PolicyCompilation = { ok: true; policy: CompiledPolicy } | { ok: false; reason: string };

/** Fingerprint of a public key: `sha256:<hex>` of its SPKI DER. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

function isKeyPolicy(policy: SignerPolicy): policy is KeyPolicy {
  return typeof (policy as Partial<KeyPolicy>).public_key_pem === 'string';
}

/** Validates and compiles a signer policy; a bad pattern or key is reported, never thrown. */
export function compileSignerPolicy(policy: SignerPolicy): PolicyCompilation {
  if (policy === null || typeof policy !== 'object') return { ok: false, reason: 'the policy must be an object' };
  if (isKeyPolicy(policy)) {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(policy.public_key_pem);
    } catch (cause) {
      return { ok: false, reason: `public_key_pem is not a PEM public key: ${(cause as Error).message}` };
    }
    if (publicKey.asymmetricKeyType !== 'ec') {
      return { ok: false, reason: `public_key_pem must be an ECDSA key (cosign key pairs are P-256), got ${publicKey.asymmetricKeyType}` };
    }
    return { ok: true, policy: { type: 'key', publicKey, keyId: publicKeyFingerprint(publicKey) } };
  }
  const compiled: Partial<Record<'identity' | 'issuer', TrustPattern>> = {};
  for (const [field, key] of [
    ['identity_regexp', 'identity'],
    ['issuer_regexp', 'issuer'],
  ] as const) {
    const pattern = (policy as Partial<IdentityPolicy>)[field];
    if (typeof pattern !== 'string' || pattern.length === 0) {
      return { ok: false, reason: `${field} must be a non-empty regular expression (or give public_key_pem for a key-pair policy)` };
    }
    const compilation = compileTrustPattern(pattern);
    if (!compilation.ok) return { ok: false, reason: `${field} ${compilation.reason}` };
    compiled[key] = compilation.pattern;
  }
  return { ok: true, policy: { type: 'identity', identity: compiled.identity!, issuer: compiled.issuer!, source: policy } };
}
