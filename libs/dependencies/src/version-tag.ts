import semver from 'semver';
import { PowernodeError } from '@powernode/contracts';

/**
 * The semantic version a git tag names: `v1.2.3` → `1.2.3`, `1.2.3-rc.1` → `1.2.3-rc.1`. A leading
 * `refs/tags/` and one leading `v` are accepted; anything that is not a full `MAJOR.MINOR.PATCH` version is
 * refused with `not_semver` (build metadata is dropped, as it carries no precedence).
 */
export function parseVersionFromTag(tag: string): string {
  const bare = tag.replace(/^refs\/tags\//, '').replace(/^[vV](?=\d)/, '');
  const parsed = semver.parse(bare, { loose: false });
  if (parsed === null) {
    throw new PowernodeError('not_semver', `tag "${tag}" is not a semantic version: tag releases as vMAJOR.MINOR.PATCH (for example v1.2.3)`, {
      details: { tag },
    });
  }
  return parsed.version;
}

/** `parseVersionFromTag` without the throw: the version, or null when the tag is not a semantic version. */
export function tryParseVersionFromTag(tag: string): string | null {
  try {
    return parseVersionFromTag(tag);
  } catch {
    return null;
  }
}

/** Orders version strings newest first by semver precedence; strings that are not semver sort last, by text. */
export function compareVersionsNewestFirst(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va !== null && vb !== null) return semver.rcompare(va, vb);
  if (va !== null) return -1;
  if (vb !== null) return 1;
  return a < b ? 1 : a > b ? -1 : 0;
}
