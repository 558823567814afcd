import { parseDeb822Sources, parseOneLineSources } from './apt-sources.js';
import { parseDistribution, resolveDebianMirror } from './debian-mirror.js';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: trixie
Components: main

Types: deb-src
URIs: http://sources.example/debian
Suites: sid
Components: main
`;

const ONE_LINE = `# a comment
deb http://mirror.example/debian bookworm main contrib
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-updates main
deb-src http://mirror.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main # trailing comment
`;

describe('apt sources', () => {
  it.each([
    ['deb822', parseDeb822Sources(DEB822)],
    ['one-line', parseOneLineSources(ONE_LINE)],
  ])('reads the binary suites of the %s format', (_format, sources) => {
    expect(sources.map((source) => `${source.uri} ${source.suite}`)).toEqual([
      'http://mirror.example/debian bookworm',
      'http://mirror.example/debian bookworm-updates',
      'http://security.example/debian-security bookworm-security',
    ]);
  });
});

describe('resolveDebianMirror', () => {
  const sources = parseDeb822Sources(DEB822);
  const suites = (env: NodeJS.ProcessEnv, distribution = 'debian/bookworm'): string[] =>
    resolveDebianMirror(parseDistribution(distribution), sources, env).suites.map((suite) => `${suite.uri} ${suite.suite}`);

  it.each([
    [
      'the configured mirror',
      {},
      ['http://mirror.example/debian bookworm', 'http://mirror.example/debian bookworm-updates', 'http://security.example/debian-security bookworm-security'],
    ],
    [
      'POWERNODE_DEBIAN_MIRROR for the archive, security kept',
      { POWERNODE_DEBIAN_MIRROR: 'http://other.example/debian/' },
      ['http://other.example/debian bookworm', 'http://other.example/debian bookworm-updates', 'http://security.example/debian-security bookworm-security'],
    ],
    [
      'POWERNODE_DEBIAN_SECURITY_MIRROR for security',
      { POWERNODE_DEBIAN_SECURITY_MIRROR: 'http://sec.example/ds' },
      ['http://mirror.example/debian bookworm', 'http://mirror.example/debian bookworm-updates', 'http://sec.example/ds bookworm-security'],
    ],
  ])('uses %s', (_case, env, expected) => {
    expect(suites(env)).toEqual(expected);
  });

  it('serves an unconfigured suite from POWERNODE_DEBIAN_MIRROR alone', () => {
    expect(suites({ POWERNODE_DEBIAN_MIRROR: 'http://other.example/debian' }, 'debian/trixie')).toEqual(['http://other.example/debian trixie']);
  });

  it.each([
    ['a suite with no mirror', 'debian/trixie', /no Debian mirror is configured for debian\/trixie.*POWERNODE_DEBIAN_MIRROR/],
    ['another vendor', 'ubuntu/noble', /ubuntu\/noble is not supported/],
    ['a malformed name', 'bookworm', /not <vendor>\/<suite>/],
  ])('refuses %s with distribution_unavailable', (_case, distribution, message) => {
    expect(() => suites({}, distribution)).toThrow(expect.objectContaining({ code: 'distribution_unavailable', message: expect.stringMatching(message) }));
  });
});
