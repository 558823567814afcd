import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import {
  NATS_USERS,
  natsInboxPrefix,
  platformNatsServerConfig,
  type NatsConnectAuth,
  type NatsCredential,
  type NatsPermissionSettings,
  type NatsUser,
} from '@powernode/events';
import { ensureOwnerOnlyFile } from './owner-only-file.js';

/** The NATS credentials files of a platform: the server's configuration and one password file per user. */
export interface NatsCredentialFiles {
  dir: string;
  /** `nats-server -c <config_file>`: max_payload, the users and their permissions. */
  config_file: string;
  passwordFile(user: NatsUser): string;
}

/** Where a platform keeps its NATS credentials: `<dir>/nats-server.conf` and `<dir>/<user>.password`. */
export function natsCredentialFiles(dir: string): NatsCredentialFiles {
  return { dir, config_file: path.join(dir, 'nats-server.conf'), passwordFile: (user) => path.join(dir, `${user}.password`) };
}

/**
 * Makes a password for every platform NATS user (keeping the ones already there, so running services and a
 * server started earlier still agree) and writes the server configuration for the given bus and relay host,
 * every file mode 0600. Idempotent; the configuration is rewritten each time, since the relay host or bus
 * namespace may have changed.
 */
export function ensureNatsCredentials(dir: string, permissions: NatsPermissionSettings): NatsCredentialFiles {
  const files = natsCredentialFiles(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const credentials: NatsCredential[] = NATS_USERS.map((user) => {
    const file = files.passwordFile(user);
    if (!existsSync(file)) writeSecret(file, `${randomBytes(24).toString('base64url')}\n`);
    return { user, password: readPasswordFile(file, `the NATS password of ${user}`) };
  });
  writeSecret(files.config_file, platformNatsServerConfig({ credentials, permissions }));
  return files;
}

/**
 * The NATS authentication a process's configuration names: `NATS_USER` with `NATS_PASSWORD_FILE` (or
 * `NATS_PASSWORD`), or none. Its inbox prefix follows the user, which is what the platform's permissions
 * let it subscribe to.
 */
export function natsAuthFromConfig(config: {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_PASSWORD_FILE?: string | undefined;
}): NatsConnectAuth {
  const user = config.NATS_USER;
  if (user === undefined) {
    if (config.NATS_PASSWORD !== undefined || config.NATS_PASSWORD_FILE !== undefined) {
      throw new PowernodeError('config_invalid', 'invalid configuration: NATS_USER: must be set when NATS_PASSWORD or NATS_PASSWORD_FILE is', {
        details: { problems: ['NATS_USER: must be set when NATS_PASSWORD or NATS_PASSWORD_FILE is'] },
      });
    }
    return {};
  }
  let pass = config.NATS_PASSWORD;
  if (config.NATS_PASSWORD_FILE !== undefined) {
    pass = readPasswordFile(config.NATS_PASSWORD_FILE, 'NATS_PASSWORD_FILE');
    ensureOwnerOnlyFile(config.NATS_PASSWORD_FILE);
  }
  if (pass === undefined) {
    const problem = `NATS_PASSWORD_FILE: must name the password file of NATS user ${user} (or set NATS_PASSWORD)`;
    throw new PowernodeError('config_invalid', `invalid configuration: ${problem}`, { details: { problems: [problem] } });
  }
  return { user, pass, inboxPrefix: natsInboxPrefix(user) };
}

/** The environment that makes a service process connect as `user` with the password kept in `files`. */
export function natsUserEnvironment(files: NatsCredentialFiles, user: NatsUser): { NATS_USER: string; NATS_PASSWORD_FILE: string } {
  return { NATS_USER: user, NATS_PASSWORD_FILE: files.passwordFile(user) };
}

function readPasswordFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new PowernodeError('config_invalid', `invalid configuration: ${what}: cannot read ${file}: ${(cause as Error).message}`, {
      cause,
      details: { problems: [`${what}: cannot read ${file}`], file },
    });
  }
  if (text.length === 0) {
    throw new PowernodeError('config_invalid', `invalid configuration: ${what}: ${file} is empty; remove it to have a new password made`, {
      details: { problems: [`${what}: ${file} is empty`], file },
    });
  }
  return text;
}

/** Writes a secret whole or not at all (a temp file renamed over it), readable by its owner only. */
function writeSecret(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
