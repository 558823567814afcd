import { PROMOTION_TRANSITIONS, type PromotionState } from '@powernode/contracts/browser';

/** What a role carries, as GET /whoami lists it. */
export type Permission = 'read' | 'change' | 'approve' | 'admin';

/** One button on a version: a promotion the state machine allows and the caller may request. */
export interface PromotionAction {
  to: PromotionState;
  label: string;
}

const LABELS: Record<PromotionState, string> = {
  built: 'Send back to built',
  staging: 'Promote to staging',
  blessed: 'Promote to blessed',
  live: 'Promote to live',
  retired: 'Retire',
};

/**
 * The promotions to offer for a version in `state`: every transition the state machine allows, when the caller
 * may change state (promoting needs the change permission; live may still need a second person's approval).
 * A rejected build (not cosign-verified) is offered none but retirement.
 */
export function promotionActions(state: PromotionState, permissions: readonly Permission[], usable: boolean): PromotionAction[] {
  if (!permissions.includes('change')) return [];
  return PROMOTION_TRANSITIONS[state].filter((to) => usable || to === 'retired').map((to) => ({ to, label: LABELS[to] }));
}

/** Whether the caller may approve a pending promotion: an approver who did not request it (four eyes). */
export function mayApprove(permissions: readonly Permission[], callerName: string, requestedBy: string): boolean {
  return permissions.includes('approve') && callerName !== requestedBy;
}
