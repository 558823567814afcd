import { PowernodeError } from '@powernode/contracts';
import type { AptSource } from './apt-sources.js';

/*
 * Which mirror serves a distribution. The host's apt configuration is the source of truth (the build uses
 * the mirror the machine already trusts and reaches); POWERNODE_DEBIAN_MIRROR replaces the main archive URI
 * and POWERNODE_DEBIAN_SECURITY_MIRROR the security one. No host name is built in.
 */

/** The distribution a module builds from when its manifest names none. */
export const DEFAULT_DISTRIBUTION = 'debian/bookworm';

/** A distribution split into vendor and suite. */
export interface Distribution {
  vendor: string;
  suite: string;
}

/** One suite the build installs from, and where. */
export interface MirrorSuite {
  suite: string;
  uri: string;
  components: string[];
}

/** The suites of one distribution: `<suite>`, `<suite>-updates` and `<suite>-security` when configured. */
export interface DebianMirror {
  distribution: Distribution;
  suites: MirrorSuite[];
}

/** Splits `debian/bookworm`; a missing value is the default distribution. */
export function parseDistribution(value: string | undefined): Distribution {
  const text = value ?? DEFAULT_DISTRIBUTION;
  const [vendor, suite, ...rest] = text.split('/');
  if (vendor === undefined || vendor === '' || suite === undefined || suite === '' || rest.length > 0) {
    throw new PowernodeError('distribution_unavailable', `build.distribution "${text}" is not <vendor>/<suite>; write e.g. ${DEFAULT_DISTRIBUTION}`, {
      details: { distribution: text },
    });
  }
  return { vendor, suite };
}

/** The distribution's suites from the apt sources, with the environment's mirror overrides; `distribution_unavailable` otherwise. */
export function resolveDebianMirror(distribution: Distribution, sources: readonly AptSource[], env: NodeJS.ProcessEnv = process.env): DebianMirror {
  const name = `${distribution.vendor}/${distribution.suite}`;
  if (distribution.vendor !== 'debian') {
    throw new PowernodeError(
      'distribution_unavailable',
      `build.distribution ${name} is not supported: packages are installed from Debian only; use debian/<suite>`,
      {
        details: { distribution: name },
      },
    );
  }
  const archiveOverride = env['POWERNODE_DEBIAN_MIRROR']?.trim() || undefined;
  const securityOverride = env['POWERNODE_DEBIAN_SECURITY_MIRROR']?.trim() || undefined;
  for (const [variable, value] of [
    ['POWERNODE_DEBIAN_MIRROR', archiveOverride],
    ['POWERNODE_DEBIAN_SECURITY_MIRROR', securityOverride],
  ] as const) {
    if (value !== undefined && !/^https?:\/\/[^\s/]+/.test(value)) {
      throw new PowernodeError(
        'distribution_unavailable',
        `${variable} "${value}" is not an http(s) URL; set it to the archive root, e.g. http://<mirror>/debian`,
        {
          details: { variable, value },
        },
      );
    }
  }
  const configured = (suite: string): AptSource | undefined => sources.find((source) => source.suite === suite);
  const main = configured(distribution.suite);
  const archiveUri = archiveOverride?.replace(/\/+$/, '') ?? main?.uri;
  if (archiveUri === undefined) {
    throw new PowernodeError(
      'distribution_unavailable',
      `no Debian mirror is configured for ${name}: add a deb822 stanza with "Suites: ${distribution.suite}" under /etc/apt/sources.list.d/, or set POWERNODE_DEBIAN_MIRROR to a Debian archive URL`,
      { details: { distribution: name, configured_suites: [...new Set(sources.map((source) => source.suite))] } },
    );
  }
  const components = main?.components.length ? main.components : ['main'];
  const suites: MirrorSuite[] = [{ suite: distribution.suite, uri: archiveUri, components }];
  const updates = configured(`${distribution.suite}-updates`);
  if (updates !== undefined) suites.push({ suite: updates.suite, uri: archiveOverride?.replace(/\/+$/, '') ?? updates.uri, components });
  const security = configured(`${distribution.suite}-security`);
  const securityUri = securityOverride?.replace(/\/+$/, '') ?? security?.uri;
  if (securityUri !== undefined) suites.push({ suite: `${distribution.suite}-security`, uri: securityUri, components });
  return { distribution, suites };
}

/** The one-line apt source of a mirror suite, as mmdebstrap and the built system's sources.list take it. */
export function aptSourceLine(suite: MirrorSuite): string {
  return `deb ${suite.uri} ${suite.suite} ${suite.components.join(' ')}`;
}
