import { DEFAULT_APPROVAL_TTL_MS, PowernodeError, type ApprovalStatus, type CatalogEventOf } from '@powernode/contracts';
import { assertNever, type Decider } from '@powernode/events';

/*
 * PromotionApproval (stream `promotion-approval-<approval_id>`): the second pair of eyes on a `live`
 * promotion. Requested when the version decider answers `approval_required`; a principal holding the approver
 * role, other than the requester, grants or rejects it before it expires (default 4 h). The grant is then
 * applied to the version with PromoteVersion{approval}.
 */

/** Roles that may decide an approval (`admin` holds every permission). */
export const APPROVER_ROLES = ['approver', 'admin'] as const;

export type PromotionApprovalEvent =
  | CatalogEventOf<'PromotionApprovalRequested'>
  | CatalogEventOf<'PromotionApprovalGranted'>
  | CatalogEventOf<'PromotionApprovalRejected'>
  | CatalogEventOf<'PromotionApprovalExpired'>;

export type PromotionApprovalCommand =
  | {
      type: 'RequestPromotionApproval';
      approval_id: string;
      version: { version_id: string; module_id: string; module_name: string; version_string: string };
      requested_by: string;
      /** The requester's token id: what four-eyes compares (names are labels). */
      requested_by_id: string;
      now: string;
      /** How long the request stays open; default DEFAULT_APPROVAL_TTL_MS (4 h). */
      ttl_ms?: number;
    }
  | { type: 'ApprovePromotion'; approver: string; approver_id: string; approver_roles: readonly string[]; now: string }
  | { type: 'RejectPromotion'; approver: string; approver_id: string; approver_roles: readonly string[]; reason?: string | null; now: string }
  /** Records the expiry of a pending approval whose deadline has passed (a sweeper, or a failed approve). */
  | { type: 'ExpireApproval'; now: string };

export interface PromotionApprovalRecord {
  approval_id: string;
  version_id: string;
  module_id: string;
  module_name: string;
  version_string: string;
  to: 'live';
  requested_by: string;
  /** Null for approvals requested before token ids were recorded: those compare names. */
  requested_by_id: string | null;
  requested_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

export type PromotionApprovalState = { status: 'absent' } | { status: ApprovalStatus; approval: PromotionApprovalRecord };

export const promotionApprovalDecider: Decider<PromotionApprovalCommand, PromotionApprovalState, PromotionApprovalEvent> = {
  initialState: () => ({ status: 'absent' }),

  decide(command, state) {
    switch (command.type) {
      case 'RequestPromotionApproval': {
        if (state.status !== 'absent') {
          throw new PowernodeError('already_exists', `approval ${command.approval_id} already exists: use a fresh approval id`, {
            details: { approval_id: command.approval_id, rule: 'approval_id_unique' },
          });
        }
        const ttl = command.ttl_ms ?? DEFAULT_APPROVAL_TTL_MS;
        if (!Number.isFinite(ttl) || ttl <= 0) {
          throw new PowernodeError('validation_failed', `ttl_ms must be a positive number of milliseconds, got ${ttl}`, {
            details: { field: 'ttl_ms', rule: 'approval_ttl_positive' },
          });
        }
        const { version } = command;
        return [
          {
            type: 'PromotionApprovalRequested',
            data: {
              approval_id: command.approval_id,
              version_id: version.version_id,
              module_id: version.module_id,
              module_name: version.module_name,
              version_string: version.version_string,
              to: 'live',
              requested_by: command.requested_by,
              requested_by_id: command.requested_by_id,
              requested_at: command.now,
              expires_at: new Date(Date.parse(command.now) + ttl).toISOString(),
            },
          },
        ];
      }
      case 'ApprovePromotion': {
        const approval = decidable(state, command, command.now);
        return [
          {
            type: 'PromotionApprovalGranted',
            data: { approval_id: approval.approval_id, version_id: approval.version_id, approved_by: command.approver, approved_at: command.now },
          },
        ];
      }
      case 'RejectPromotion': {
        const approval = decidable(state, command, command.now);
        return [
          {
            type: 'PromotionApprovalRejected',
            data: {
              approval_id: approval.approval_id,
              version_id: approval.version_id,
              rejected_by: command.approver,
              reason: command.reason ?? null,
              rejected_at: command.now,
            },
          },
        ];
      }
      case 'ExpireApproval': {
        if (state.status !== 'pending') return [];
        if (!isPastDeadline(state.approval, command.now)) {
          throw new PowernodeError(
            'invalid_transition',
            `approval ${state.approval.approval_id} is open until ${state.approval.expires_at}; it cannot expire at ${command.now}`,
            {
              details: { approval_id: state.approval.approval_id, expires_at: state.approval.expires_at, rule: 'expires_only_after_deadline' },
            },
          );
        }
        return [
          {
            type: 'PromotionApprovalExpired',
            data: { approval_id: state.approval.approval_id, version_id: state.approval.version_id, expired_at: command.now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'PromotionApprovalRequested':
        return {
          status: 'pending',
          approval: { ...event.data, requested_by_id: event.data.requested_by_id ?? null, decided_by: null, decided_at: null, reason: null },
        };
      case 'PromotionApprovalGranted':
        return state.status === 'absent'
          ? state
          : { status: 'granted', approval: { ...state.approval, decided_by: event.data.approved_by, decided_at: event.data.approved_at } };
      case 'PromotionApprovalRejected':
        return state.status === 'absent'
          ? state
          : {
              status: 'rejected',
              approval: { ...state.approval, decided_by: event.data.rejected_by, decided_at: event.data.rejected_at, reason: event.data.reason },
            };
      case 'PromotionApprovalExpired':
        return state.status === 'absent' ? state : { status: 'expired', approval: { ...state.approval, decided_at: event.data.expired_at } };
      default:
        return assertNever(event);
    }
  },
};

/** True once `now` has reached the approval's deadline. */
export function isPastDeadline(approval: Pick<PromotionApprovalRecord, 'expires_at'>, now: string): boolean {
  return Date.parse(now) >= Date.parse(approval.expires_at);
}

/** The approval, if the approver may decide it now; otherwise the refusal naming the rule. */
function decidable(
  state: PromotionApprovalState,
  { approver, approver_id, approver_roles: roles }: { approver: string; approver_id: string; approver_roles: readonly string[] },
  now: string,
): PromotionApprovalRecord {
  if (state.status === 'absent') {
    throw new PowernodeError('not_found', 'no such promotion approval: list pending approvals to find its id', { details: { rule: 'approval_exists' } });
  }
  const { approval } = state;
  switch (state.status) {
    case 'pending':
      break;
    case 'expired':
      throw expired(approval);
    case 'granted':
    case 'rejected':
      throw new PowernodeError(
        'invalid_transition',
        `approval ${approval.approval_id} was already ${state.status} by ${approval.decided_by ?? 'someone'}: it is decided once`,
        {
          details: { approval_id: approval.approval_id, approval_status: state.status, rule: 'approval_decided_once' },
        },
      );
    default:
      return assertNever(state);
  }
  if (isPastDeadline(approval, now)) throw expired(approval);
  if (!roles.some((role) => (APPROVER_ROLES as readonly string[]).includes(role))) {
    throw new PowernodeError(
      'forbidden',
      `${approver} does not hold the approver role: ask a principal with the approver role to decide approval ${approval.approval_id}`,
      {
        details: { approval_id: approval.approval_id, roles: [...roles], rule: 'approver_role_required' },
      },
    );
  }
  if (isRequester(approval, { id: approver_id, name: approver })) {
    throw new PowernodeError('self_approval', `${approver} requested this promotion and cannot also decide it: another approver must`, {
      details: { approval_id: approval.approval_id, requested_by: approval.requested_by, rule: 'approver_differs_from_requester' },
    });
  }
  return approval;
}

/**
 * Whether the principal is the one who requested the approval: the same token id. Names are free text two
 * tokens may share; they only decide for approvals recorded before requests carried the requester's id.
 */
function isRequester(approval: PromotionApprovalRecord, principal: { id: string; name: string }): boolean {
  return approval.requested_by_id === null ? principal.name === approval.requested_by : principal.id === approval.requested_by_id;
}

function expired(approval: PromotionApprovalRecord): PowernodeError {
  return new PowernodeError(
    'approval_expired',
    `approval ${approval.approval_id} expired at ${approval.expires_at}: promote to live again to request a new one`,
    {
      details: { approval_id: approval.approval_id, expires_at: approval.expires_at, rule: 'approval_not_expired' },
    },
  );
}
