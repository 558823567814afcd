import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new bearer token: prefix names the role for humans; 32 random bytes carry the secret. */
export function mintToken(role: string): string {
  return `pn_${role}_${randomBytes(32).toString('base64url')}`;
}

/**
 * Tokens are stored as SHA-256 digests only. They are high-entropy random strings, so a fast hash is enough:
 * nothing to brute-force, and lookups stay O(1) per request.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
