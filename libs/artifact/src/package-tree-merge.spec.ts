import { compileMask, type TreeEntry } from './module-tree.js';
import { applyMask, mergePackageAndRootfsTrees } from './package-tree-merge.js';

const dir = (path: string, mode = 0o755, uid = 0, gid = 0): TreeEntry => ({ type: 'directory', path, mode, uid, gid });
const file = (path: string, mode = 0o644, uid = 0, gid = 0): TreeEntry => ({ type: 'file', path, mode, uid, gid, size: 1, sourcePath: `/src${path}` });
const show = (entries: readonly TreeEntry[]): string[] =>
  entries.map((entry) =>
    `${entry.type} ${entry.path} ${entry.mode.toString(8)} ${entry.uid}:${entry.gid} ${entry.type === 'file' ? entry.sourcePath : ''}`.trim(),
  );

describe('mergePackageAndRootfsTrees and applyMask', () => {
  const packages = [
    dir('/etc'),
    dir('/etc/redis', 0o2770, 101, 102),
    file('/etc/redis/redis.conf', 0o640, 101, 102),
    file('/etc/redis/sentinel.conf', 0o640, 101, 102),
    dir('/usr'),
    file('/usr/bin/su', 0o4755),
  ];
  const rootfs = [dir('/etc'), dir('/etc/redis'), file('/etc/redis/redis.conf')];

  it('lets rootfs files win, keeps package directories and full modes, then masks the merged tree', () => {
    const merged = applyMask(mergePackageAndRootfsTrees(packages, rootfs), compileMask(['/etc/redis/sentinel.conf']));
    expect(show(merged)).toEqual([
      'directory /etc 755 0:0',
      'directory /etc/redis 2770 101:102',
      'file /etc/redis/redis.conf 644 0:0 /src/etc/redis/redis.conf',
      'directory /usr 755 0:0',
      'file /usr/bin/su 4755 0:0 /src/usr/bin/su',
    ]);
  });

  it('drops everything below a masked directory', () => {
    expect(show(applyMask(packages, compileMask(['/etc/redis/'])))).toEqual([
      'directory /etc 755 0:0',
      'directory /usr 755 0:0',
      'file /usr/bin/su 4755 0:0 /src/usr/bin/su',
    ]);
  });
});
