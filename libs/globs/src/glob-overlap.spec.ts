import { compileGlob, globsMayOverlap, globsShareAPath } from './index.js';

describe('globsShareAPath / globsMayOverlap', () => {
  const cases: [a: string, b: string, share: boolean, overlap: boolean][] = [
    ['/etc/**', '/etc/shadow', true, true],
    ['/etc/shadow', '/etc/shadow', true, true],
    ['/etc/shadow', '/etc/passwd', false, false],
    ['/etc/ssh', '/etc/ssh/sshd_config', false, true],
    ['/etc/ssh/', '/etc/ssh/**', false, true],
    ['/etc/ssh/ssh_host_*_key', '/etc/ssh/ssh_host_rsa_key.pub', false, false],
    ['/etc/ssh/ssh_host_*_key', '/etc/ssh/ssh_host_*_key.pub', false, false],
    ['/etc/ssh/ssh_host_*_key', '/etc/ssh/ssh_host_ed25519_key', true, true],
    ['/boot/firmware/start*.elf', '/boot/firmware/**', true, true],
    ['/boot/firmware/start*.elf', '/boot/firmware/fixup*.dat', false, false],
    ['/boot/firmware/bcm*-rpi-*.dtb', '/boot/firmware/*.dtb', true, true],
    ['*.conf', '/etc/chrony/chrony.conf', true, true],
    // /etc/passwd/x.conf would lie below /etc/passwd
    ['*.conf', '/etc/passwd', false, true],
    ['/*.conf', '/etc/passwd', false, false],
    ['conf', '/etc/conf/inner.conf', false, true],
    ['redis/', '/etc/redis/redis.conf', false, true],
    ['/var/cache/apt/**', '/var/lib/apt/lists/**', false, false],
    ['/usr/lib/**', '/usr/lib64/libc.so', false, false],
    ['/usr/lib/**', '/usr/lib', false, true],
    ['/etc/[a-c]*', '/etc/d*', false, false],
    ['/etc/[!a-c]*', '/etc/d*', true, true],
    ['/etc/[a-c]*', '/etc/[c-e]x', true, true],
    ['/etc/[a-b]*', '/etc/[c-e]x', false, false],
    ['/etc/?', '/etc/ab', false, false],
    ['/etc/??', '/etc/ab', true, true],
    ['/a/*/c', '/a/b/d/c', false, false],
    ['/a/**/c', '/a/b/d/c', true, true],
    ['**/x', '/x', true, true],
    ['/**/x', '/x', false, true],
    ['/a/**/x', '/y', false, false],
    ['/dir/***', '/dir', true, true],
    ['/dir/***', '/dir/a/b', true, true],
    ['/etc/sudoers.d/**', '/etc/sudoers', false, false],
    ['/etc/sudoers*', '/etc/sudoers.d/**', false, true],
  ];

  test.each(cases)('%s vs %s: share %s, overlap %s', (a, b, share, overlap) => {
    expect(globsShareAPath(a, b)).toBe(share);
    expect(globsShareAPath(b, a)).toBe(share);
    expect(globsMayOverlap(a, b)).toBe(overlap);
    expect(globsMayOverlap(b, a)).toBe(overlap);
  });

  test('the protected-path example of the reference platform: /etc/** claims /etc/shadow and /etc/sudoers', () => {
    expect(['/etc/shadow', '/etc/sudoers'].every((protectedPath) => globsMayOverlap(protectedPath, compileGlob('/etc/**')))).toBe(true);
  });

  // Soundness over a concrete tree: whenever some path is matched by both globs, the answer must be "share".
  test('never answers "disjoint" for globs that select a common path of a sample tree', () => {
    const files = [
      '/etc/shadow',
      '/etc/ssh/sshd_config',
      '/etc/ssh/ssh_host_rsa_key',
      '/etc/ssh/ssh_host_rsa_key.pub',
      '/etc/redis/redis.conf',
      '/etc/conf/inner.conf',
      '/conf',
      '/boot/firmware/start4.elf',
      '/boot/firmware/bcm2711-rpi-4-b.dtb',
      '/a/b/c/d.txt',
      '/a/d.txt',
      '/d.txt',
      '/usr/lib/x',
      '/usr/lib64/y',
      '/var/cache/apt/a.deb',
    ];
    const dirs = [
      ...new Set(
        files.flatMap((f) =>
          f
            .split('/')
            .slice(1, -1)
            .map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`),
        ),
      ),
    ];
    const entries: [string, boolean][] = [...files.map((f): [string, boolean] => [f, false]), ...dirs.map((d): [string, boolean] => [d, true])];
    const patterns = [...new Set(cases.flatMap(([a, b]) => [a, b]))].concat(['*', '**', '/*', '?', '*/', 'd.txt', 'a/**', '/etc/***']);
    let pairsChecked = 0;
    for (const a of patterns) {
      for (const b of patterns) {
        const ga = compileGlob(a);
        const gb = compileGlob(b);
        const common = entries.some(([p, isDir]) => ga.match(p, isDir) && gb.match(p, isDir));
        if (common) {
          pairsChecked++;
          expect([a, b, globsShareAPath(ga, gb)]).toEqual([a, b, true]);
        }
        const nested = entries.some(([p, pDir]) => ga.match(p, pDir) && entries.some(([q, qDir]) => (q === p || q.startsWith(`${p}/`)) && gb.match(q, qDir)));
        if (nested) expect([a, b, globsMayOverlap(ga, gb)]).toEqual([a, b, true]);
      }
    }
    expect(pairsChecked).toBeGreaterThan(100);
  });
});
