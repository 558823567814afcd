import { PowernodeError } from '@powernode/contracts';
import type { Principal } from './roles.js';
import { digestsEqual, hashToken } from './token-hash.js';
import { BOOTSTRAP_ADMIN_NAME, findActiveToken, type TokenRegistryState } from './token-registry.js';

/**
 * Resolves `Authorization: Bearer <token>` to a principal: the bootstrap admin token, or an issued token that
 * is not revoked. Missing and wrong tokens both give `unauthenticated`, without saying which.
 */
export class Authenticator {
  private readonly bootstrapDigest: string;

  /**
   * `catchUp` folds the token registry up to the log's head: a token issued a moment ago through another
   * gateway process (a worker or replica) is only known here once it has been folded.
   */
  constructor(
    bootstrapAdminToken: string,
    private readonly tokens: () => TokenRegistryState,
    private readonly catchUp: () => Promise<void> = async () => {},
  ) {
    this.bootstrapDigest = hashToken(bootstrapAdminToken);
  }

  /** The principal of the header; an unknown token is looked up again once the registry has caught up. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    try {
      return this.resolve(authorization);
    } catch (error) {
      if (!(error instanceof UnknownToken)) throw error;
      await this.catchUp();
      return this.resolve(authorization);
    }
  }

  private resolve(authorization: string | undefined): Principal {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new PowernodeError('unauthenticated', 'missing bearer token: send Authorization: Bearer <token>');
    const digest = hashToken(match[1]!);
    if (digestsEqual(digest, this.bootstrapDigest)) return { id: BOOTSTRAP_ADMIN_NAME, name: BOOTSTRAP_ADMIN_NAME, role: 'admin' };
    const record = findActiveToken(this.tokens(), digest);
    if (!record) throw new UnknownToken();
    return { id: record.id, name: record.name, role: record.role };
  }
}

/** A well-formed bearer token the registry does not hold (yet, or any more). */
class UnknownToken extends PowernodeError {
  constructor() {
    super('unauthenticated', 'invalid or revoked bearer token');
  }
}
