import type { EventEnvelope } from '@powernode/event-core';
import type { EventStore } from '../store/event-store.js';

/*
 * A unique name (a node's hostname, a module's name) is claimed on a registry stream first and the holder's
 * own stream is written second: two appends, so a crash between them leaves a claim whose holder never came to
 * exist. Such a claim is abandoned once it is older than the time a registration takes; the next claimant
 * releases it and claims again, so the name is not lost for good. Removal is two appends as well (the holder's
 * end, then the release): a claim whose holder's stream ended is released at once. A claim whose holder exists
 * is live, whatever its age, and a recent one may still be followed by its registration: both keep blocking.
 */

/** A claim older than this whose holder's stream is still empty was left by a crash between the two appends. */
export const ABANDONED_CLAIM_MS = 60_000;

/** How to claim a name on one registry, and how to tell an abandoned claim there. */
export interface RegistryClaim {
  store: EventStore;
  /** The registry stream that holds the claims. */
  registry: string;
  /** Appends the claim; throws the registry's uniqueness refusal when another holder has the name. */
  claim: () => Promise<unknown>;
  /** The holder a uniqueness refusal names, or null when the error is anything else. */
  holderRefusing: (error: unknown) => string | null;
  /** The stream the holder's registration is appended to. */
  holderStream: (holder: string) => string;
  /** When a registry event claimed something for `holder` (its `claimed_at`), or null for any other event. */
  claimedAt: (event: EventEnvelope, holder: string) => string | null;
  /** True when the last event of the holder's stream ends it (a deletion a crash kept from its release). */
  holderEnded?: (last: EventEnvelope) => boolean;
  /** Releases everything `holder` claimed on the registry. */
  release: (holder: string) => Promise<unknown>;
  now: () => Date;
  /** Default ABANDONED_CLAIM_MS. */
  abandonedAfterMs?: number;
  /** Told about each abandoned claim before it is released (for the log). */
  onAbandoned?: (holder: string) => void;
}

/**
 * Claims, taking over claims a crash abandoned. Each abandoned holder in the way is released once; a claim
 * conflicts with at most one holder per unique key it carries, so the attempts are bounded by `maxHolders`.
 */
export async function claimRecoveringAbandoned(c: RegistryClaim, maxHolders = 2): Promise<void> {
  for (let released = 0; ; released++) {
    try {
      await c.claim();
      return;
    } catch (error) {
      const holder = c.holderRefusing(error);
      if (holder === null || released >= maxHolders || !(await isAbandonedClaim(c, holder))) throw error;
      c.onAbandoned?.(holder);
      await c.release(holder);
    }
  }
}

/** True when `holder`'s stream ended, or is still empty while its newest claim is older than the limit. */
async function isAbandonedClaim(c: RegistryClaim, holder: string): Promise<boolean> {
  const [last] = await c.store.readStream(c.holderStream(holder), { direction: 'backward', limit: 1 });
  if (last !== undefined) return c.holderEnded?.(last) ?? false;
  const newest = (await c.store.readStream(c.registry, { direction: 'backward' })).map((e) => c.claimedAt(e, holder)).find((at) => at !== null);
  if (newest === undefined || newest === null) return false;
  return c.now().getTime() - Date.parse(newest) > (c.abandonedAfterMs ?? ABANDONED_CLAIM_MS);
}
