import type { PromotionState } from '@powernode/contracts';

const RANK: Readonly<Record<PromotionState, number | null>> = { built: 0, staging: 1, blessed: 2, live: 3, retired: null };

/** Rank of a promotion state (built 0 < staging 1 < blessed 2 < live 3); null for `retired`, which is out of the order. */
export function promotionRank(state: PromotionState): number | null {
  return RANK[state];
}

/** True when `state` is `minimum` or further along the promotion order; a retired version never qualifies. */
export function isPromotedAtLeast(state: PromotionState, minimum: PromotionState): boolean {
  const rank = RANK[state];
  const min = RANK[minimum];
  if (min === null) throw new RangeError('retired is not a promotion level a dependency can require');
  return rank !== null && rank >= min;
}
