import type { VersionCandidate } from './resolve-requirement.js';
import { resolveRequirement } from './resolve-requirement.js';
import { isPromotedAtLeast, promotionRank } from './promotion-order.js';

const v = (version: string, promotion_state: VersionCandidate['promotion_state']): VersionCandidate => ({ version, promotion_state });

describe('promotion order', () => {
  it('ranks built < staging < blessed < live and leaves retired out', () => {
    expect([promotionRank('built'), promotionRank('staging'), promotionRank('blessed'), promotionRank('live')]).toEqual([0, 1, 2, 3]);
    expect(promotionRank('retired')).toBeNull();
  });

  it.each([
    ['staging', 'staging', true],
    ['blessed', 'staging', true],
    ['live', 'staging', true],
    ['built', 'staging', false],
    ['retired', 'staging', false],
    ['retired', 'built', false],
  ] as const)('%s counts as at least %s: %s', (state, min, expected) => {
    expect(isPromotedAtLeast(state, min)).toBe(expected);
  });

  it('refuses retired as a minimum level', () => {
    expect(() => isPromotedAtLeast('live', 'retired')).toThrow(RangeError);
  });
});

describe('resolveRequirement', () => {
  const versions = [v('1.0.0', 'live'), v('1.4.0', 'staging'), v('1.5.0', 'built'), v('2.0.0', 'blessed'), v('0.9.0', 'retired')];

  it.each([
    ['^1.0', '1.4.0'],
    ['~1.0', '1.0.0'],
    ['=1.0.0', '1.0.0'],
    ['*', '2.0.0'],
    ['>=1.1.0 <2.0.0', '1.4.0'],
    ['^1.0 || ^2.0', '2.0.0'],
  ])('%s resolves to the highest promoted version in range (%s)', (range, version) => {
    expect(resolveRequirement(range, versions, 'staging')).toMatchObject({ status: 'satisfied', version });
  });

  it('reports not_promoted when the only versions in range are built', () => {
    expect(resolveRequirement('=1.5.0', versions, 'staging')).toEqual({
      status: 'not_promoted',
      range: '=1.5.0',
      min_state: 'staging',
      in_range: [v('1.5.0', 'built')],
    });
  });

  it('never counts a retired version, even in range', () => {
    expect(resolveRequirement('^0.9', versions, 'built')).toMatchObject({ status: 'not_promoted', in_range: [v('0.9.0', 'retired')] });
  });

  it('reports no_version_in_range with what is available, newest first', () => {
    expect(resolveRequirement('^3.0', versions, 'staging')).toEqual({
      status: 'no_version_in_range',
      range: '^3.0',
      available: ['2.0.0', '1.5.0', '1.4.0', '1.0.0', '0.9.0'],
    });
  });

  it('honours a higher minimum state', () => {
    expect(resolveRequirement('^1.0', versions, 'live')).toMatchObject({ status: 'satisfied', version: '1.0.0' });
    expect(resolveRequirement('^2.0', versions, 'live')).toMatchObject({ status: 'not_promoted' });
  });

  it('ignores candidates whose version is not semver', () => {
    expect(resolveRequirement('*', [v('nightly', 'live')], 'staging')).toEqual({ status: 'no_version_in_range', range: '*', available: [] });
  });
});
