import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { ensureOwnerOnlyFile } from '@powernode/runtime';

/*
 * The two secrets of an agent. The enrolment token is handed to the driver, used once by the agent to obtain
 * its credential, and only its SHA-256 is recorded. It is derived from a key kept in the provisioner's private
 * state (HMAC-SHA256 of the instance id), so a provisioner that crashes between recording the request and
 * handing the token to the driver computes the same token again instead of losing it; the key never leaves
 * this process, and the token is useless once used or expired. The credential is derived the same way (another
 * HMAC of the instance id), so an agent whose enrolment answer was lost (a provisioner killed mid-reply) gets the
 * same credential when it presents the still valid token again; only its SHA-256 is recorded, and terminating
 * the instance revokes it.
 */

const KEY_FILE = 'enrolment-key';
const ENROLMENT_TOKEN_PREFIX = 'pne_';
const CREDENTIAL_PREFIX = 'pnc_';

/** Derives enrolment tokens from the provisioner's private key. */
export class EnrolmentKeys {
  private constructor(private readonly key: Buffer) {}

  /**
   * Loads `<dataDir>/provisioner/enrolment-key`, creating it (32 random bytes, mode 0600) on first start; an
   * existing key readable by others is set back to 0600, or the provisioner refuses to start.
   */
  static loadOrCreate(dataDir: string): EnrolmentKeys {
    const dir = path.join(dataDir, 'provisioner');
    const file = path.join(dir, KEY_FILE);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      // `wx`: two provisioners starting together on one data dir must not each write their own key.
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PowernodeError(
          'config_invalid',
          `cannot create the enrolment key ${file}: ${(error as Error).message}; check that POWERNODE_DATA_DIR is writable`,
          { cause: error },
        );
      }
    }
    ensureOwnerOnlyFile(file);
    const hex = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new PowernodeError(
        'config_invalid',
        `${file} is not 64 hex characters: restore it from a backup (instances not yet enrolled then enrol again), or remove it and provision them again`,
        {
          details: { file, rule: 'enrolment_key_format' },
        },
      );
    }
    return EnrolmentKeys.fromKey(Buffer.from(hex, 'hex'));
  }

  /** Keys from a key the caller holds (32 bytes, as in the key file): a provisioner built in process, with no data dir. */
  static fromKey(key: Uint8Array): EnrolmentKeys {
    if (key.length !== 32) {
      throw new PowernodeError('config_invalid', `an enrolment key is 32 bytes, not ${key.length}: generate one with randomBytes(32)`, {
        details: { field: 'key', length: key.length, rule: 'enrolment_key_length' },
      });
    }
    return new EnrolmentKeys(Buffer.from(key));
  }

  /** The credential an instance's agent gets for its enrolment token (the same on every call and after a restart). */
  agentCredential(instanceId: string): string {
    return CREDENTIAL_PREFIX + createHmac('sha256', this.key).update(`powernode-agent-credential\u0000${instanceId}`).digest('base64url');
  }

  /** The one-time enrolment token of an instance (the same on every call and after a restart). */
  enrolmentToken(instanceId: string): string {
    return ENROLMENT_TOKEN_PREFIX + createHmac('sha256', this.key).update(`powernode-enrolment-token\u0000${instanceId}`).digest('base64url');
  }
}

/** SHA-256 (hex) of a secret: what events and read models keep instead of the secret. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
