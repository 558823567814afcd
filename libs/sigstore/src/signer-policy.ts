import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Keyless policy, as cosign's `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp`.
 * Both patterns must match the whole value: we anchor them, whatever the author wrote.
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

/** A policy ready to apply: patterns compiled and anchored, key parsed. */
export type CompiledPolicy =
  | { type: 'identity'; identity: RegExp; issuer: RegExp; source: IdentityPolicy }
  | { type: 'key'; publicKey: KeyObject; keyId: string };

export type PolicyCompilation = { ok: true; policy: CompiledPolicy } | { ok: false; reason: string };

/**
 * Compiles a pattern so that it must match the entire value: `a.com` must not accept `evil-a.com` or
 * `a.com.evil`. Wrapping in a non-capturing group keeps alternations (`a|b`) inside the anchors.
 */
export function anchoredPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

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
  const compiled: Partial<Record<'identity' | 'issuer', RegExp>> = {};
  for (const [field, key] of [
    ['identity_regexp', 'identity'],
    ['issuer_regexp', 'issuer'],
  ] as const) {
    const pattern = (policy as Partial<IdentityPolicy>)[field];
    if (typeof pattern !== 'string' || pattern.length === 0) {
      return { ok: false, reason: `${field} must be a non-empty regular expression (or give public_key_pem for a key-pair policy)` };
    }
    try {
      compiled[key] = anchoredPattern(pattern);
    } catch (cause) {
      return { ok: false, reason: `${field} is not a valid regular expression: ${(cause as Error).message}` };
    }
  }
  return { ok: true, policy: { type: 'identity', identity: compiled.identity!, issuer: compiled.issuer!, source: policy } };
}
