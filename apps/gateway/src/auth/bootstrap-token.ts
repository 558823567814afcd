import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureOwnerOnlyFile } from '@powernode/runtime';

/**
 * The bootstrap admin credential of CONTRACT §1: POWERNODE_ADMIN_TOKEN when set, otherwise the token kept in
 * `<data dir>/admin-token` (created once with mode 0600, so a restart keeps the same token; an existing file
 * readable by others is set back to 0600, or the gateway refuses to start).
 */
export function ensureBootstrapAdminToken(dataDir: string, fromEnv: string | undefined): { token: string; file: string | undefined } {
  if (fromEnv) return { token: fromEnv, file: undefined };
  const file = path.join(dataDir, 'admin-token');
  if (existsSync(file)) {
    ensureOwnerOnlyFile(file);
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return { token, file };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = `pn_admin_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file };
}
