import { mayApprove, promotionActions } from '../src/domain/promotion-actions.js';

const targets = (state: Parameters<typeof promotionActions>[0], permissions: Parameters<typeof promotionActions>[1], usable = true) =>
  promotionActions(state, permissions, usable).map((a) => a.to);

describe('promotion buttons', () => {
  it.each([
    ['built', ['staging', 'retired']],
    ['staging', ['blessed', 'built', 'retired']],
    ['blessed', ['live', 'retired']],
    ['live', ['retired']],
    ['retired', []],
  ] as const)('offer from %s exactly the transitions the state machine allows', (state, allowed) => {
    expect(targets(state, ['read', 'change'])).toEqual(allowed);
  });

  it('offer nothing to a role without the change permission (viewer, approver)', () => {
    expect(targets('built', ['read'])).toEqual([]);
    expect(targets('blessed', ['read', 'approve'])).toEqual([]);
  });

  it('offer a rejected or unverified build nothing but retirement', () => {
    expect(targets('built', ['read', 'change'], false)).toEqual(['retired']);
  });

  it('name each button by its action', () => {
    expect(promotionActions('blessed', ['change'], true).map((a) => a.label)).toEqual(['Promote to live', 'Retire']);
  });
});

describe('approve button (four eyes)', () => {
  it('is offered to an approver who did not request the promotion', () => {
    expect(mayApprove(['read', 'approve'], 'alice', 'bob')).toBe(true);
  });
  it('is not offered to the requester, even an admin', () => {
    expect(mayApprove(['read', 'change', 'approve', 'admin'], 'bob', 'bob')).toBe(false);
  });
  it('is not offered without the approve permission', () => {
    expect(mayApprove(['read', 'change'], 'alice', 'bob')).toBe(false);
  });
});
