import { given } from '@powernode/testing';
import { promotionApprovalDecider, type PromotionApprovalCommand, type PromotionApprovalEvent } from './promotion-approval.decider.js';
import { T0 } from './catalog-fixtures.test-support.js';

const FOUR_HOURS_LATER = '2026-05-01T14:00:00.000Z';
const BEFORE_DEADLINE = '2026-05-01T13:59:59.999Z';
const version = { version_id: 'ver-1', module_id: 'mod-1', module_name: 'my-redis', version_string: '0.1.0' };

const requested: PromotionApprovalEvent = {
  type: 'PromotionApprovalRequested',
  data: { approval_id: 'ap-1', ...version, to: 'live', requested_by: 'alice', requested_by_id: 'tok-alice', requested_at: T0, expires_at: FOUR_HOURS_LATER },
};
/** As recorded before requests carried the requester's token id. */
const requestedByNameOnly: PromotionApprovalEvent = {
  type: 'PromotionApprovalRequested',
  data: { approval_id: 'ap-1', ...version, to: 'live', requested_by: 'alice', requested_at: T0, expires_at: FOUR_HOURS_LATER },
};
const granted: PromotionApprovalEvent = {
  type: 'PromotionApprovalGranted',
  data: { approval_id: 'ap-1', version_id: 'ver-1', approved_by: 'carol', approved_at: BEFORE_DEADLINE },
};
const rejected: PromotionApprovalEvent = {
  type: 'PromotionApprovalRejected',
  data: { approval_id: 'ap-1', version_id: 'ver-1', rejected_by: 'carol', reason: null, rejected_at: BEFORE_DEADLINE },
};
const expired: PromotionApprovalEvent = { type: 'PromotionApprovalExpired', data: { approval_id: 'ap-1', version_id: 'ver-1', expired_at: FOUR_HOURS_LATER } };

const approve = (approver: string, roles: string[], now = BEFORE_DEADLINE, approver_id = `tok-${approver}`): PromotionApprovalCommand => ({
  type: 'ApprovePromotion',
  approver,
  approver_id,
  approver_roles: roles,
  now,
});
const reject = (approver: string, roles: string[], now = BEFORE_DEADLINE, approver_id = `tok-${approver}`): PromotionApprovalCommand => ({
  type: 'RejectPromotion',
  approver,
  approver_id,
  approver_roles: roles,
  reason: 'not yet',
  now,
});

describe('promotion approval decider: requesting', () => {
  it('opens a pending approval that expires after 4 h by default', () => {
    given(promotionApprovalDecider, [])
      .when({ type: 'RequestPromotionApproval', approval_id: 'ap-1', version, requested_by: 'alice', requested_by_id: 'tok-alice', now: T0 })
      .then([requested]);
  });

  it('honours a shorter time to live', () => {
    const [event] = given(promotionApprovalDecider, [])
      .when({ type: 'RequestPromotionApproval', approval_id: 'ap-1', version, requested_by: 'alice', requested_by_id: 'tok-alice', now: T0, ttl_ms: 60_000 })
      .events();
    expect(event).toMatchObject({ data: { expires_at: '2026-05-01T10:01:00.000Z' } });
  });

  it('refuses a non-positive time to live', () => {
    given(promotionApprovalDecider, [])
      .when({ type: 'RequestPromotionApproval', approval_id: 'ap-1', version, requested_by: 'alice', requested_by_id: 'tok-alice', now: T0, ttl_ms: 0 })
      .thenRefuses({ code: 'validation_failed', rule: 'approval_ttl_positive' });
  });

  it('refuses an approval id already used', () => {
    given(promotionApprovalDecider, [requested])
      .when({ type: 'RequestPromotionApproval', approval_id: 'ap-1', version, requested_by: 'alice', requested_by_id: 'tok-alice', now: T0 })
      .thenRefuses({ code: 'already_exists', rule: 'approval_id_unique' });
  });
});

describe('promotion approval decider: deciding', () => {
  it('grants when an approver other than the requester approves', () => {
    given(promotionApprovalDecider, [requested])
      .when(approve('carol', ['approver']))
      .then([granted]);
  });

  it('accepts an admin as approver', () => {
    expect(
      given(promotionApprovalDecider, [requested])
        .when(approve('dave', ['admin']))
        .events(),
    ).toHaveLength(1);
  });

  it('rejects with the approver’s reason', () => {
    given(promotionApprovalDecider, [requested])
      .when(reject('carol', ['approver']))
      .then([
        {
          type: 'PromotionApprovalRejected',
          data: { approval_id: 'ap-1', version_id: 'ver-1', rejected_by: 'carol', reason: 'not yet', rejected_at: BEFORE_DEADLINE },
        },
      ]);
  });

  it.each([
    ['approve', approve],
    ['reject', reject],
  ])('refuses the requester to %s their own promotion (self_approval)', (_verb, command) => {
    given(promotionApprovalDecider, [requested])
      .when(command('alice', ['approver', 'operator']))
      .thenRefuses({ code: 'self_approval', rule: 'approver_differs_from_requester' });
  });

  it.each([
    ['approve', approve],
    ['reject', reject],
  ])('compares token ids, not names: the requester cannot %s under another name', (_verb, command) => {
    given(promotionApprovalDecider, [requested])
      .when(command('alice-second-name', ['approver'], BEFORE_DEADLINE, 'tok-alice'))
      .thenRefuses({ code: 'self_approval', rule: 'approver_differs_from_requester' });
  });

  it("compares token ids, not names: another token that shares the requester's name may decide", () => {
    given(promotionApprovalDecider, [requested])
      .when(approve('alice', ['approver'], BEFORE_DEADLINE, 'tok-other-alice'))
      .then([{ type: 'PromotionApprovalGranted', data: { approval_id: 'ap-1', version_id: 'ver-1', approved_by: 'alice', approved_at: BEFORE_DEADLINE } }]);
  });

  it("compares names for an approval recorded without the requester's token id", () => {
    given(promotionApprovalDecider, [requestedByNameOnly])
      .when(approve('alice', ['approver'], BEFORE_DEADLINE, 'tok-any'))
      .thenRefuses({ code: 'self_approval', rule: 'approver_differs_from_requester' });
    expect(
      given(promotionApprovalDecider, [requestedByNameOnly])
        .when(approve('carol', ['approver']))
        .events(),
    ).toHaveLength(1);
  });

  it.each([[['operator']], [['viewer']], [[]]])('refuses a principal without the approver role (%j → forbidden)', (roles) => {
    given(promotionApprovalDecider, [requested]).when(approve('bob', roles)).thenRefuses({ code: 'forbidden', rule: 'approver_role_required' });
    given(promotionApprovalDecider, [requested]).when(reject('bob', roles)).thenRefuses({ code: 'forbidden', rule: 'approver_role_required' });
  });

  it('refuses approval at or after the deadline (approval_expired)', () => {
    given(promotionApprovalDecider, [requested])
      .when(approve('carol', ['approver'], FOUR_HOURS_LATER))
      .thenRefuses({ code: 'approval_expired', rule: 'approval_not_expired' });
    given(promotionApprovalDecider, [requested])
      .when(reject('carol', ['approver'], '2026-05-02T00:00:00.000Z'))
      .thenRefuses({ code: 'approval_expired' });
  });

  it('refuses an approval whose expiry was recorded (approval_expired)', () => {
    given(promotionApprovalDecider, [requested, expired])
      .when(approve('carol', ['approver']))
      .thenRefuses({ code: 'approval_expired' });
  });

  it.each([
    ['granted', granted],
    ['rejected', rejected],
  ])('refuses to decide an approval already %s (decided once)', (_status, decision) => {
    given(promotionApprovalDecider, [requested, decision])
      .when(approve('erin', ['approver']))
      .thenRefuses({ code: 'invalid_transition', rule: 'approval_decided_once' });
  });

  it('refuses an unknown approval (not_found)', () => {
    given(promotionApprovalDecider, [])
      .when(approve('carol', ['approver']))
      .thenRefuses({ code: 'not_found', rule: 'approval_exists' });
  });

  it('keeps who decided in state', () => {
    const { state } = given(promotionApprovalDecider, [requested, granted]);
    expect(state.status === 'granted' && [state.approval.decided_by, state.approval.decided_at]).toEqual(['carol', BEFORE_DEADLINE]);
  });
});

describe('promotion approval decider: expiry', () => {
  it('records the expiry of a pending approval past its deadline', () => {
    given(promotionApprovalDecider, [requested]).when({ type: 'ExpireApproval', now: FOUR_HOURS_LATER }).then([expired]);
  });

  it('refuses to expire an approval before its deadline', () => {
    given(promotionApprovalDecider, [requested])
      .when({ type: 'ExpireApproval', now: BEFORE_DEADLINE })
      .thenRefuses({ code: 'invalid_transition', rule: 'expires_only_after_deadline' });
  });

  it.each([
    ['granted', [requested, granted]],
    ['expired', [requested, expired]],
    ['absent', []],
  ] as const)('does nothing for an approval that is %s', (_status, history) => {
    given(promotionApprovalDecider, [...history])
      .when({ type: 'ExpireApproval', now: '2026-06-01T00:00:00.000Z' })
      .then([]);
  });
});
