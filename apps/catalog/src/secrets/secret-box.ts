import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PowernodeError, type EncryptedSecret } from '@powernode/contracts';
import { ensureOwnerOnlyFile } from '@powernode/runtime';

const ALGORITHM = 'aes-256-gcm';

/**
 * Encrypts webhook secrets at rest with AES-256-GCM under a key kept outside the event store (a 0600 file in
 * the data dir, or POWERNODE_SECRET_KEY). Events only ever carry the ciphertext and the key's id.
 */
export class SecretBox {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32)
      throw new PowernodeError(
        'config_invalid',
        `secret key must be 32 bytes, got ${key.length}: set POWERNODE_SECRET_KEY to 64 hex characters or delete the key file to regenerate`,
      );
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** Loads `<dataDir>/secret.key`, creating it (mode 0600) on first use; `hexKey` overrides the file. */
  static loadOrCreate(dataDir: string, hexKey?: string): SecretBox {
    if (hexKey) {
      if (!/^[0-9a-fA-F]{64}$/.test(hexKey)) throw new PowernodeError('config_invalid', 'POWERNODE_SECRET_KEY must be 64 hex characters (32 bytes)');
      return new SecretBox(Buffer.from(hexKey, 'hex'));
    }
    const file = path.join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      try {
        writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Another process created it first; use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    ensureOwnerOnlyFile(file);
    return SecretBox.loadOrCreate(dataDir, readFileSync(file, 'utf8').trim());
  }

  encrypt(plain: string): EncryptedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return { algorithm: ALGORITHM, key_id: this.keyId, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
  }

  decrypt(secret: EncryptedSecret): string {
    if (secret.algorithm !== ALGORITHM || secret.key_id !== this.keyId) {
      throw new PowernodeError(
        'internal',
        `webhook secret was encrypted with key ${secret.key_id} (${secret.algorithm}); this service has key ${this.keyId}: restore the original secret key or rotate the module's webhook secret`,
      );
    }
    const raw = Buffer.from(secret.ciphertext, 'base64');
    const decipher = createDecipheriv(ALGORITHM, this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw new PowernodeError('internal', 'webhook secret ciphertext failed authentication: the stored secret is corrupt; rotate the webhook secret', {
        cause,
      });
    }
  }
}

/** A new webhook secret: 32 random bytes, hex (what CI stores as POWERNODE_WEBHOOK_SECRET). */
export function mintWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}
