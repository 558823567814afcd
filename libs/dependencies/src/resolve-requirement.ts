import semver from 'semver';
import type { PromotionState } from '@powernode/contracts';
import { isPromotedAtLeast } from './promotion-order.js';

/** A version of a dependency that could satisfy a requirement. */
export interface VersionCandidate {
  version: string;
  promotion_state: PromotionState;
}

/** How one requirement resolved against the versions of the module it names. */
export type RequirementResolution =
  | { status: 'satisfied'; range: string; version: string; promotion_state: PromotionState }
  /** Versions satisfy the range, but none is promoted far enough (or they are retired). */
  | { status: 'not_promoted'; range: string; min_state: PromotionState; in_range: VersionCandidate[] }
  /** No version of the module satisfies the range at all. */
  | { status: 'no_version_in_range'; range: string; available: string[] };

/**
 * Picks the highest version that satisfies `range` and is at `minState` or beyond (retired versions never count).
 * When none qualifies, says whether versions in range exist but are not promoted, or none is in range.
 * Candidates whose version is not semver are ignored.
 */
export function resolveRequirement(range: string, candidates: readonly VersionCandidate[], minState: PromotionState): RequirementResolution {
  const valid = candidates.filter((c) => semver.valid(c.version) !== null);
  const inRange = valid.filter((c) => semver.satisfies(c.version, range)).sort((a, b) => semver.rcompare(a.version, b.version));
  const eligible = inRange.find((c) => isPromotedAtLeast(c.promotion_state, minState));
  if (eligible) return { status: 'satisfied', range, version: eligible.version, promotion_state: eligible.promotion_state };
  if (inRange.length > 0) return { status: 'not_promoted', range, min_state: minState, in_range: inRange.map((c) => ({ ...c })) };
  return { status: 'no_version_in_range', range, available: valid.map((c) => c.version).sort(semver.rcompare) };
}
