import { PowernodeError, type TokenCreated, type TokenRevoked } from '@powernode/contracts';
import { defineProjection, entryOf, setEntry } from '@powernode/events';
import type { Role } from './roles.js';

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  token_sha256: string;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

/** The events the token registry folds. */
type TokenEvent = { type: 'TokenCreated'; data: TokenCreated } | { type: 'TokenRevoked'; data: TokenRevoked };

export interface TokenRegistryState {
  by_id: Record<string, TokenRecord>;
  /** sha256 → token id, for O(1) bearer lookups. */
  by_hash: Record<string, string>;
}

/**
 * Issued bearer tokens, folded from TokenCreated/TokenRevoked (the store only ever holds their digests).
 * Its handlers update the state in place (it belongs to the fold), so an event costs O(1); records are never
 * changed once stored (a revocation stores a new record), so a record a caller holds stays as it was.
 */
export const tokenRegistryProjection = defineProjection<TokenRegistryState, TokenEvent>({
  name: 'gateway-tokens',
  version: 1,
  initialState: () => ({ by_id: {}, by_hash: {} }),
  handlers: {
    TokenCreated(state, event) {
      const d = event.data;
      setEntry(state.by_id, d.token_id, {
        id: d.token_id,
        name: d.name,
        role: d.role,
        token_sha256: d.token_sha256,
        created_by: d.created_by,
        created_at: d.created_at,
        revoked_at: null,
      });
      setEntry(state.by_hash, d.token_sha256, d.token_id);
      return state;
    },
    TokenRevoked(state, event) {
      const d = event.data;
      const existing = entryOf(state.by_id, d.token_id);
      if (!existing) return state;
      delete state.by_hash[existing.token_sha256];
      setEntry(state.by_id, d.token_id, { ...existing, revoked_at: d.revoked_at });
      return state;
    },
  },
});

/** The active token with this digest, if any. */
export function findActiveToken(state: TokenRegistryState, sha256: string): TokenRecord | undefined {
  const id = entryOf(state.by_hash, sha256);
  const record = id === undefined ? undefined : entryOf(state.by_id, id);
  return record && record.revoked_at === null ? record : undefined;
}

/** The name (and id) the bootstrap admin token acts under; no issued token may take it. */
export const BOOTSTRAP_ADMIN_NAME = 'bootstrap-admin';

/**
 * Refuses a token name that the bootstrap admin or an active token already has (ignoring case and surrounding
 * spaces): names are what people read in the audit trail and in approvals, so two principals must not share one.
 */
export function assertTokenNameFree(state: TokenRegistryState, name: string): void {
  const wanted = name.trim().toLowerCase();
  if (wanted === BOOTSTRAP_ADMIN_NAME) {
    throw new PowernodeError('already_exists', `${JSON.stringify(name)} is the bootstrap admin's name: choose another name for the token`, {
      details: { field: 'name', rule: 'token_name_unique' },
    });
  }
  const holder = Object.values(state.by_id).find((record) => record.revoked_at === null && record.name.trim().toLowerCase() === wanted);
  if (holder !== undefined) {
    throw new PowernodeError(
      'already_exists',
      `an active token is already named ${JSON.stringify(holder.name)} (id ${holder.id}): choose another name, or revoke that token first`,
      {
        details: { field: 'name', token_id: holder.id, rule: 'token_name_unique' },
      },
    );
  }
}
