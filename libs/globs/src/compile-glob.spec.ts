import { isPowernodeError } from '@powernode/contracts';
import { compileGlob, findMatchingGlob, GlobSyntaxError, matchesAny } from './index.js';

describe('compileGlob', () => {
  const cases: [rule: string, pattern: string, path: string, isDir: boolean, expected: boolean][] = [
    ['* stays inside one component', '/etc/*', '/etc/redis/redis.conf', false, false],
    ['* matches a whole component', '/etc/*', '/etc/passwd', false, true],
    ['* matches an empty run', '/etc/redis*', '/etc/redis', true, true],
    ['** crosses /', '/etc/**', '/etc/redis/tls/ca.crt', false, true],
    ['/etc/** does not match /etc itself', '/etc/**', '/etc', true, false],
    ['? is one character', '/boot/firmware/fixup?.dat', '/boot/firmware/fixup4.dat', false, true],
    ['? is not /', '/a?b', '/a/b', false, false],
    ['? is not two characters', '/boot/firmware/fixup?.dat', '/boot/firmware/fixup42.dat', false, false],
    ['? is one code point', '/caf?', '/café', false, true],
    ['[...] class', '/boot/firmware/start[0-9].elf', '/boot/firmware/start4.elf', false, true],
    ['[!...] negated class', '/etc/[!a-c]*', '/etc/apt', true, false],
    ['[^...] negated class', '/etc/[^a-c]*', '/etc/ssh', true, true],
    ['[] ] is a literal ] first in a class', '/x/[]a]', '/x/]', false, true],
    ['[[:digit:]] POSIX class', '/x/[[:digit:]]', '/x/7', false, true],
    ['a negated class never matches /', '/a[!x]b', '/a/b', false, false],
    ['a leading / anchors at the root', '/redis.conf', '/etc/redis/redis.conf', false, false],
    ['no leading / matches the last component at any depth', 'redis.conf', '/etc/redis/redis.conf', false, true],
    ['no leading / matches trailing components', 'redis/redis.conf', '/etc/redis/redis.conf', false, true],
    ['trailing components are whole components', 'edis/redis.conf', '/etc/redis/redis.conf', false, false],
    ['an unanchored ** pattern matches at any component boundary', 'redis/**', '/etc/redis/tls/ca.crt', false, true],
    ['a pattern starting with ** also matches at the root', '**/d.txt', '/d.txt', false, true],
    ['an anchored /** pattern needs the component', '/**/d.txt', '/d.txt', false, false],
    ['a/**/b needs at least one component in between', '/a/**/b', '/a/b', false, false],
    ['a trailing / matches directories', '/var/cache/', '/var/cache', true, true],
    ['a trailing / does not match files', '/var/cache/', '/var/cache', false, false],
    ['dir/*** matches the directory itself', '/etc/redis/***', '/etc/redis', true, true],
    ['dir/*** matches what is below', '/etc/redis/***', '/etc/redis/tls/ca.crt', false, true],
    ['dir/*** does not match a file named dir', '/etc/redis/***', '/etc/redis', false, false],
    ['\\ escapes a wildcard', '/weird/star\\*name', '/weird/star*name', false, true],
    ['an escaped wildcard is literal', '/weird/star\\*name', '/weird/starXname', false, false],
    ['a backslash is literal in a pattern without wildcards', '/weird/back\\slash', '/weird/back\\slash', false, true],
    ['the root itself never matches', '/**', '/', true, false],
    ['paths may be given without the leading /', '/etc/*', 'etc/passwd', false, true],
  ];

  test.each(cases)('%s: %s vs %s (dir %s) → %s', (_rule, pattern, path, isDir, expected) => {
    expect(compileGlob(pattern).match(path, isDir)).toBe(expected);
  });

  test('keeps the source and exposes the parsed flags', () => {
    const glob = compileGlob('/var/cache/');
    expect(glob).toMatchObject({ source: '/var/cache/', anchored: true, directoryOnly: true, matchesWholePath: true });
    expect(compileGlob('*.conf')).toMatchObject({ anchored: false, directoryOnly: false, matchesWholePath: false });
  });

  const invalid: [pattern: string, reason: RegExp, offset: number | undefined][] = [
    ['', /empty/, undefined],
    ['/etc/[abc', /never closed/, 5],
    ['/etc/[]', /never closed/, 5],
    ['/etc/[[:alphax:]]', /unknown character class "\[:alphax:\]"/, 6],
    ['/etc/[z-a]', /reversed range "z-a"/, 7],
    ['/etc/foo*\\', /lone backslash/, 9],
    ['/etc//shadow', /empty path component/, 4],
    ['/', /root/, undefined],
    ['//', /root/, undefined],
    [' /etc/shadow', /white space/, undefined],
    ['/etc/shadow ', /white space/, undefined],
    ['/etc/a\nb', /line break/, 6],
    ['/etc/a\0b', /NUL/, 6],
  ];

  test.each(invalid)('refuses %j', (pattern, reason, offset) => {
    let caught: unknown;
    try {
      compileGlob(pattern);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GlobSyntaxError);
    const error = caught as GlobSyntaxError;
    expect(error.reason).toMatch(reason);
    expect(error.offset).toBe(offset);
    expect(error.message).toContain(JSON.stringify(pattern).slice(1, -1).slice(0, 5));
    expect(isPowernodeError(error) && error.code).toBe('validation_failed');
  });
});

describe('matchesAny / findMatchingGlob', () => {
  const maskGlobs = ['/var/cache/apt/**', '/usr/share/doc/**', '*.pyc'];

  test('true when one of the globs selects the path', () => {
    expect(matchesAny(maskGlobs, '/usr/share/doc/redis/README')).toBe(true);
    expect(matchesAny(maskGlobs, '/opt/app/x.pyc')).toBe(true);
  });

  test('false when none does, or when the list is empty', () => {
    expect(matchesAny(maskGlobs, '/etc/redis/redis.conf')).toBe(false);
    expect(matchesAny([], '/etc/redis/redis.conf')).toBe(false);
  });

  test('returns the first matching glob, compiled or not', () => {
    const compiled = compileGlob('/etc/**');
    expect(findMatchingGlob([compiled, '/etc/redis/*'], '/etc/redis/redis.conf')).toBe(compiled);
    expect(findMatchingGlob(['/etc/redis/*', compiled], '/etc/redis/redis.conf')?.source).toBe('/etc/redis/*');
    expect(findMatchingGlob(['/etc/redis/*'], '/var/x')).toBeUndefined();
  });

  test('honours directory-only globs', () => {
    expect(matchesAny(['/var/log/'], '/var/log', true)).toBe(true);
    expect(matchesAny(['/var/log/'], '/var/log', false)).toBe(false);
  });

  test('throws for an invalid glob in the list', () => {
    expect(() => matchesAny(['/etc/[x'], '/etc/x')).toThrow(GlobSyntaxError);
  });
});
