import { isPowernodeError } from '@powernode/contracts';
import { compareVersionsNewestFirst, parseVersionFromTag, tryParseVersionFromTag } from './version-tag.js';

describe('parseVersionFromTag', () => {
  it.each([
    ['v1.2.3', '1.2.3'],
    ['1.2.3', '1.2.3'],
    ['V0.1.0', '0.1.0'],
    ['refs/tags/v0.1.0', '0.1.0'],
    ['v2.0.0-rc.1', '2.0.0-rc.1'],
    ['v1.2.3+build.7', '1.2.3'],
  ])('reads %s as %s', (tag, version) => {
    expect(parseVersionFromTag(tag)).toBe(version);
  });

  it.each(['v1.2', 'latest', 'main', 'refs/heads/main', 'vv1.2.3', '', '1.2.3.4', 'v01.2.3'])('refuses %j with not_semver', (tag) => {
    let caught: unknown;
    try {
      parseVersionFromTag(tag);
    } catch (error) {
      caught = error;
    }
    expect(isPowernodeError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('not_semver');
    expect((caught as Error).message).toContain('vMAJOR.MINOR.PATCH');
  });

  it('tryParseVersionFromTag returns null instead of throwing', () => {
    expect(tryParseVersionFromTag('nightly')).toBeNull();
    expect(tryParseVersionFromTag('v3.4.5')).toBe('3.4.5');
  });
});

describe('compareVersionsNewestFirst', () => {
  it('orders by semver precedence, not by text, with non-semver strings last', () => {
    const sorted = ['1.9.0', '1.10.0', 'nightly', '1.10.0-rc.1', '0.1.0'].sort(compareVersionsNewestFirst);
    expect(sorted).toEqual(['1.10.0', '1.10.0-rc.1', '1.9.0', '0.1.0', 'nightly']);
  });
});
