import { chmodSync, statSync } from 'node:fs';
import { PowernodeError } from '@powernode/contracts';

/** Group and other permission bits: a secret file must have none. */
const GROUP_AND_OTHER = 0o077;

/**
 * Makes a secret file (the bootstrap admin token, the enrolment key, the secret key) readable by its owner
 * only. Creating it with mode 0600 is not enough: a file made by an older release, restored from a backup or
 * copied under a loose umask keeps whatever mode it has. A file with group or other bits is set to 0600 when
 * this process owns it; otherwise the service refuses to start (`config_invalid`) and says what to run.
 */
export function ensureOwnerOnlyFile(file: string): void {
  const stat = statSync(file);
  if (!stat.isFile()) {
    throw new PowernodeError('config_invalid', `${file} must be a regular file holding a secret: remove it and start again to create it`, {
      details: { file, rule: 'secret_file_regular' },
    });
  }
  const mode = stat.mode & 0o777;
  if ((mode & GROUP_AND_OTHER) === 0) return;
  const uid = process.getuid?.();
  const octal = mode.toString(8).padStart(4, '0');
  if (uid !== undefined && stat.uid !== uid) {
    throw new PowernodeError(
      'config_invalid',
      `${file} holds a secret but has mode ${octal} and belongs to uid ${stat.uid}, not to this service (uid ${uid}): run chown ${uid} ${file} && chmod 600 ${file}`,
      {
        details: { file, mode: octal, owner_uid: stat.uid, rule: 'secret_file_owner_only' },
      },
    );
  }
  try {
    chmodSync(file, 0o600);
  } catch (error) {
    throw new PowernodeError(
      'config_invalid',
      `${file} holds a secret but has mode ${octal} and cannot be set to 0600 (${(error as Error).message}): run chmod 600 ${file}`,
      {
        details: { file, mode: octal, rule: 'secret_file_owner_only' },
        cause: error,
      },
    );
  }
}
