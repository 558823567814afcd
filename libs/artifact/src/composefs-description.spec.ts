import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import {
  escapeDumpField,
  formatComposefsDescription,
  parseComposefsDescription,
  unescapeDumpField,
  verifyTreeAgainstDescription,
  type DescribedEntry,
} from './composefs-description.js';

const HELLO_DIGEST = 'sha256:9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa';
const EMPTY_DIGEST = 'sha256:3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95';

const tree: DescribedEntry[] = [
  { path: '/etc', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/etc/redis', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/etc/redis/redis.conf', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 6, digest: HELLO_DIGEST },
  { path: '/etc/redis/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 10, linkTarget: 'redis.conf' },
  { path: '/usr', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/usr/bin', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/usr/bin/tool', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 0, digest: EMPTY_DIGEST },
  { path: '/var', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/var/a dir\nwith\\odd', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: '/var/a dir\nwith\\odd/-', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 6, digest: HELLO_DIGEST },
  { path: '/var/ünï', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 6, digest: HELLO_DIGEST },
];

describe('composefs description', () => {
  it('writes composefs-dump(5) lines: root first, sorted, digests as payload path and digest', () => {
    const text = formatComposefsDescription([...tree].reverse(), { mtime: 1234 }).toString('utf8');
    const lines = text.split('\n');
    expect(lines[0]).toBe('/ 0 40755 5 0 0 0 1234.0 - - -');
    expect(lines[1]).toBe('/etc 0 40755 3 0 0 0 1234.0 - - -');
    expect(lines).toContain('/etc/redis/link 10 120777 1 0 0 0 1234.0 redis.conf - -');
    expect(lines).toContain(
      '/etc/redis/redis.conf 6 100644 1 0 0 0 1234.0 9c/76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa - 9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa',
    );
    // Only a whole field equal to "-" is escaped; a path component "-" is plain.
    expect(lines).toContain(
      '/var/a\\x20dir\\x0awith\\x5codd/- 6 100644 1 0 0 0 1234.0 9c/76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa - 9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa',
    );
    expect(lines).toContain(
      '/var/\\xc3\\xbcn\\xc3\\xaf 6 100644 1 0 0 0 1234.0 9c/76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa - 9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa',
    );
    expect(lines.at(-1)).toBe('');
  });

  it('is the same bytes whatever order the entries come in', () => {
    const a = formatComposefsDescription(tree, { mtime: 0 });
    const b = formatComposefsDescription([...tree].reverse(), { mtime: 0 });
    expect(a.equals(b)).toBe(true);
    expect(fsverityDigestOfBuffer(a)).toBe(fsverityDigestOfBuffer(b));
  });

  it('parses back what it writes', () => {
    const parsed = parseComposefsDescription(formatComposefsDescription(tree, { mtime: 99 }));
    expect(parsed.entries[0]).toMatchObject({ path: '/', type: 'directory', mode: 0o755, nlink: 5 });
    const byPath = new Map(parsed.entries.map((entry) => [entry.path, entry]));
    for (const entry of tree) expect(byPath.get(entry.path)).toMatchObject({ ...entry, mtime: { seconds: 99, nanoseconds: 0 } });
    expect(byPath.get('/etc/redis/redis.conf')?.payload).toBe('9c/76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa');
    expect(verifyTreeAgainstDescription(tree, parsed)).toBeUndefined();
  });

  it('escapes and unescapes every byte outside the printable range', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const escaped = escapeDumpField(all, true);
    expect(escaped).not.toMatch(/[ \n=]/);
    expect(unescapeDumpField(escaped)!.equals(all)).toBe(true);
    expect(escapeDumpField('-')).toBe('\\x2d');
    expect(unescapeDumpField('-')).toBeUndefined();
    expect(unescapeDumpField('a\\tb\\\\c\\n')!.toString()).toBe('a\tb\\c\n');
  });

  it('computes the digest of inlined content written by other tools', () => {
    const parsed = parseComposefsDescription(Buffer.from('/ 4096 40755 2 0 0 0 0.0 - - -\n/inline.txt 6 100644 1 0 0 0 0.0 - hello\\n - user.a=b\n'));
    expect(parsed.entries[1]).toMatchObject({ path: '/inline.txt', digest: HELLO_DIGEST, xattrs: [{ key: 'user.a' }] });
  });

  it.each([
    ['an empty description', '', /must at least list the root/],
    ['a first line that is not the root', '/etc 0 40755 2 0 0 0 0.0 - - -\n', /first entry must be the root/],
    ['a child before its parent', '/ 0 40755 2 0 0 0 0.0 - - -\n/etc/x 1 100644 1 0 0 0 0.0 - - ' + 'a'.repeat(64) + '\n', /before its parent directory/],
    ['a duplicate path', '/ 0 40755 2 0 0 0 0.0 - - -\n/etc 0 40755 2 0 0 0 0.0 - - -\n/etc 0 40755 2 0 0 0 0.0 - - -\n', /listed twice/],
    ['a hardlink', '/ 0 40755 2 0 0 0 0.0 - - -\n/a 6 @100644 1 0 0 0 0.0 /b - -\n', /hardlink/],
    ['a device node', '/ 0 40755 2 0 0 0 0.0 - - -\n/dev-null 0 20666 1 0 0 259 0.0 - - -\n', /not a directory, regular file or symlink/],
    ['a file without digest', '/ 0 40755 2 0 0 0 0.0 - - -\n/a 6 100644 1 0 0 0 0.0 - - -\n', /no fs-verity digest/],
    ['a short line', '/ 0 40755 2 0 0 0\n', /7 fields/],
    ['a relative path', '/ 0 40755 2 0 0 0 0.0 - - -\netc 0 40755 2 0 0 0 0.0 - - -\n', /not an absolute normalised path/],
    ['a dot-dot path', '/ 0 40755 2 0 0 0 0.0 - - -\n/.. 0 40755 2 0 0 0 0.0 - - -\n', /not an absolute normalised path/],
    ['a bad escape', '/ 0 40755 2 0 0 0 0.0 - - -\n/a\\q 0 40755 2 0 0 0 0.0 - - -\n', /bad escape/],
    ['a bad mtime', '/ 0 40755 2 0 0 0 12 - - -\n', /mtime/],
    ['inline content of the wrong size', '/ 0 40755 2 0 0 0 0.0 - - -\n/a 7 100644 1 0 0 0 0.0 - hello\\n -\n', /inlines 6 bytes but its size is 7/],
  ])('refuses %s with manifest_invalid naming the line', (_what, text, message) => {
    expect(() => parseComposefsDescription(Buffer.from(text))).toThrow(message);
    try {
      parseComposefsDescription(Buffer.from(text));
    } catch (error) {
      expect(error).toMatchObject({ code: 'manifest_invalid' });
    }
  });

  it('refuses to describe a file without a digest or an entry without its parent', () => {
    expect(() => formatComposefsDescription([{ path: '/a', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1 }], { mtime: 0 })).toThrow(/no fs-verity digest/);
    expect(() => formatComposefsDescription([{ path: '/a/b', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0 }], { mtime: 0 })).toThrow(
      /no parent directory/,
    );
  });
});

describe('verifyTreeAgainstDescription', () => {
  const description = parseComposefsDescription(formatComposefsDescription(tree, { mtime: 0 }));
  const change = (path: string, patch: Partial<DescribedEntry>): DescribedEntry[] =>
    tree.map((entry) => (entry.path === path ? { ...entry, ...patch } : entry));

  it.each([
    [
      'a changed file',
      change('/etc/redis/redis.conf', { digest: EMPTY_DIGEST }),
      { path: '/etc/redis/redis.conf', field: 'digest', expected: HELLO_DIGEST, actual: EMPTY_DIGEST },
    ],
    ['a changed size', change('/etc/redis/redis.conf', { size: 7 }), { path: '/etc/redis/redis.conf', field: 'size', expected: '6', actual: '7' }],
    ['a changed mode', change('/usr/bin/tool', { mode: 0o644 }), { path: '/usr/bin/tool', field: 'mode', expected: '755', actual: '644' }],
    ['a changed owner', change('/usr/bin/tool', { uid: 1000 }), { path: '/usr/bin/tool', field: 'uid', expected: '0', actual: '1000' }],
    ['a changed group', change('/usr/bin/tool', { gid: 5 }), { path: '/usr/bin/tool', field: 'gid', expected: '0', actual: '5' }],
    [
      'a retargeted symlink',
      change('/etc/redis/link', { linkTarget: '/etc/shadow' }),
      { path: '/etc/redis/link', field: 'link_target', expected: 'redis.conf', actual: '/etc/shadow' },
    ],
    [
      'a file turned into a symlink',
      change('/usr/bin/tool', { type: 'symlink', linkTarget: '/bin/sh' }),
      { path: '/usr/bin/tool', field: 'type', expected: 'file', actual: 'symlink' },
    ],
    ['a missing file', tree.filter((entry) => entry.path !== '/var/ünï'), { path: '/var/ünï', field: 'presence', expected: 'present', actual: 'missing' }],
    [
      'an extra file',
      [...tree, { path: '/etc/redis/extra', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 6, digest: HELLO_DIGEST }],
      { path: '/etc/redis/extra', field: 'presence', expected: 'absent', actual: 'present' },
    ],
    ['a duplicated entry', [...tree, tree[2]!], { path: '/etc/redis/redis.conf', field: 'presence', expected: 'one entry', actual: 'listed twice' }],
  ])('reports %s as the first mismatch', (_what, entries, expected) => {
    expect(verifyTreeAgainstDescription(entries, description)).toEqual(expected);
  });

  it('ignores the root entry on either side', () => {
    expect(verifyTreeAgainstDescription([{ path: '/', type: 'directory', mode: 0o700, uid: 0, gid: 0, size: 0 }, ...tree], description)).toBeUndefined();
  });
});
