import { PowernodeError } from '@powernode/contracts';
import type { Principal } from './roles.js';
import { digestsEqual, hashToken } from './token-hash.js';
import { findActiveToken, type TokenRegistryState } from './token-registry.js';

/**
 * Resolves `Authorization: Bearer <token>` to a principal: the bootstrap admin token, or an issued token that
 * is not revoked. Missing and wrong tokens both give `unauthenticated`, without saying which.
 */
export class Authenticator {
  private readonly bootstrapDigest: string;

  constructor(
    bootstrapAdminToken: string,
    private readonly tokens: () => TokenRegistryState,
  ) {
    this.bootstrapDigest = hashToken(bootstrapAdminToken);
  }

  authenticate(authorization: string | undefined): Principal {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new PowernodeError('unauthenticated', 'missing bearer token: send Authorization: Bearer <token>');
    const digest = hashToken(match[1]!);
    if (digestsEqual(digest, this.bootstrapDigest)) return { id: 'bootstrap-admin', name: 'bootstrap-admin', role: 'admin' };
    const record = findActiveToken(this.tokens(), digest);
    if (!record) throw new PowernodeError('unauthenticated', 'invalid or revoked bearer token');
    return { id: record.id, name: record.name, role: record.role };
  }
}
