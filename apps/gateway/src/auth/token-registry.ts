import type { TokenCreated, TokenRevoked } from '@powernode/contracts';
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
      setEntry(state.by_id, d.token_id, { id: d.token_id, name: d.name, role: d.role, token_sha256: d.token_sha256, created_by: d.created_by, created_at: d.created_at, revoked_at: null });
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
