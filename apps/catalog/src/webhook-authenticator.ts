import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EncryptedSecret } from '@powernode/contracts';
import { mintWebhookSecret, type SecretBox } from './secrets/secret-box.js';

/** HMAC-SHA256 of `body` under `key`: what a forge puts in X-Gitea-Signature / X-Hub-Signature-256. */
export type WebhookMac = (key: string, body: Buffer) => Buffer;

export const hmacSha256: WebhookMac = (key, body) => createHmac('sha256', key).update(body).digest();

/**
 * Checks a CI webhook's signature: HMAC-SHA256 of the raw body under the module's secret, compared in constant
 * time. A delivery for a repository no module is registered for does the same work (it decrypts a dummy secret
 * sealed when the catalog started and hashes the whole body), so the time a refusal takes does not tell a
 * caller whether the repository is registered.
 */
export class WebhookAuthenticator {
  private readonly dummy: EncryptedSecret;

  constructor(
    private readonly secrets: Pick<SecretBox, 'encrypt' | 'decrypt'>,
    private readonly mac: WebhookMac = hmacSha256,
  ) {
    this.dummy = secrets.encrypt(mintWebhookSecret());
  }

  /** True only when `sealed` is a registered module's secret and `signature` is the body's hex HMAC under it. */
  authenticates(sealed: EncryptedSecret | null, body: Buffer, signature: string): boolean {
    const expected = this.mac(this.secrets.decrypt(sealed ?? this.dummy), body);
    const given = /^[0-9a-fA-F]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(32, 0xff);
    const matches = timingSafeEqual(expected, given);
    return matches && sealed !== null;
  }
}
