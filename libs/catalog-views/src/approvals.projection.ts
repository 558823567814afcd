import { PowernodeError, type ApprovalStatus } from '@powernode/contracts';
import { compareText, entryOf, setEntry } from '@powernode/event-core';
import { catalogProjection } from './catalog-projection.js';
import { paginate, type PageRequest, type PageResult, type SortKey } from './pagination.js';

/** A promotion approval as the approval tools and lists return it. */
export interface ApprovalView {
  id: string;
  version_id: string;
  module_id: string;
  module_name: string;
  version_string: string;
  to: 'live';
  status: ApprovalStatus;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

export interface ApprovalsReadModel {
  approvals: Record<string, ApprovalView>;
  /** module id → ids of its approvals (as a set: approval id → true), so a module deletion touches only those */
  approval_ids_by_module: Record<string, Record<string, true>>;
}

/** Stores the changed view in place of the approval's view (a view is never changed once stored: a caller may hold it). */
function withApproval(state: ApprovalsReadModel, id: string, change: (a: ApprovalView) => ApprovalView): ApprovalsReadModel {
  const current = entryOf(state.approvals, id);
  if (current !== undefined) setEntry(state.approvals, id, change(current));
  return state;
}

/** Promotion approvals and their outcome. Updates its state in place. */
export const approvalsProjection = catalogProjection<ApprovalsReadModel>({
  name: 'catalog-promotion-approvals',
  // 2: approval_ids_by_module added.
  version: 2,
  initialState: () => ({ approvals: {}, approval_ids_by_module: {} }),
  handlers: {
    PromotionApprovalRequested(state, event) {
      const d = event.data;
      const view: ApprovalView = {
        id: d.approval_id,
        version_id: d.version_id,
        module_id: d.module_id,
        module_name: d.module_name,
        version_string: d.version_string,
        to: d.to,
        status: 'pending',
        requested_by: d.requested_by,
        requested_at: d.requested_at,
        expires_at: d.expires_at,
        decided_by: null,
        decided_at: null,
        reason: null,
      };
      setEntry(state.approvals, d.approval_id, view);
      let approvalIds = entryOf(state.approval_ids_by_module, d.module_id);
      if (approvalIds === undefined) setEntry(state.approval_ids_by_module, d.module_id, (approvalIds = {}));
      setEntry(approvalIds, d.approval_id, true);
      return state;
    },
    PromotionApprovalGranted: (state, event) =>
      withApproval(state, event.data.approval_id, (a) => ({ ...a, status: 'granted', decided_by: event.data.approved_by, decided_at: event.data.approved_at })),
    PromotionApprovalRejected: (state, event) =>
      withApproval(state, event.data.approval_id, (a) => ({
        ...a,
        status: 'rejected',
        decided_by: event.data.rejected_by,
        decided_at: event.data.rejected_at,
        reason: event.data.reason,
      })),
    PromotionApprovalExpired: (state, event) =>
      withApproval(state, event.data.approval_id, (a) => ({ ...a, status: 'expired', decided_at: event.data.expired_at })),
    ModuleDeleted(state, event) {
      // Costs the module's own approvals, each of which an earlier event added: O(1) amortised per event.
      const moduleId = event.data.module_id;
      for (const id of Object.keys(entryOf(state.approval_ids_by_module, moduleId) ?? {})) {
        if (entryOf(state.approvals, id)?.module_id === moduleId) delete state.approvals[id];
      }
      delete state.approval_ids_by_module[moduleId];
      return state;
    },
  },
});

/** The approval as of `now`: a pending one past its deadline reads as expired even before the expiry is recorded. */
function asOf(approval: ApprovalView, now: string): ApprovalView {
  return approval.status === 'pending' && Date.parse(now) >= Date.parse(approval.expires_at) ? { ...approval, status: 'expired' } : approval;
}

/** One approval as of `now`; refuses with `not_found`. */
export function getApproval(state: ApprovalsReadModel, approvalId: string, now: string): ApprovalView {
  const approval = entryOf(state.approvals, approvalId);
  if (approval === undefined)
    throw new PowernodeError('not_found', `no promotion approval ${approvalId}: list pending approvals to find its id`, {
      details: { approval_id: approvalId },
    });
  return asOf(approval, now);
}

/** Approvals still waiting for a decision at `now`, oldest request first, one page at a time. */
export function listPendingApprovals(state: ApprovalsReadModel, now: string, page: PageRequest = {}): PageResult<ApprovalView> {
  const pending = Object.values(state.approvals)
    .map((a) => asOf(a, now))
    .filter((a) => a.status === 'pending')
    .sort((a, b) => compareText(a.requested_at, b.requested_at) || compareText(a.id, b.id));
  return paginate(
    pending,
    (a): SortKey => [a.requested_at, a.id],
    (a, b) => compareText(String(a[0]), String(b[0])) || compareText(String(a[1]), String(b[1])),
    page,
  );
}

/** The approval still pending at `now` for a version, if any (a second promotion request returns it instead of a new one). */
export function pendingApprovalForVersion(state: ApprovalsReadModel, versionId: string, now: string): ApprovalView | null {
  return (
    Object.values(state.approvals)
      .map((a) => asOf(a, now))
      .find((a) => a.version_id === versionId && a.status === 'pending') ?? null
  );
}

/** Approvals whose deadline has passed but whose expiry is not recorded yet (for a sweeper issuing ExpireApproval). */
export function overdueApprovals(state: ApprovalsReadModel, now: string): ApprovalView[] {
  return Object.values(state.approvals).filter((a) => a.status === 'pending' && Date.parse(now) >= Date.parse(a.expires_at));
}
