import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TreeEntry } from '@powernode/artifact';
import { applySetIdPolicy, declaredPackageNames, packageOfListFile, readDpkgFileOwners, stripUndeclaredSetIds, usrMergedPath } from './set-id-policy.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pn-set-id-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function dpkgRoot(name: string, lists: Record<string, string[]>): Promise<string> {
  const root = path.join(work, name);
  await mkdir(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  for (const [file, paths] of Object.entries(lists)) await writeFile(path.join(root, 'var/lib/dpkg/info', file), `/.\n${paths.join('\n')}\n`);
  return root;
}

function file(modulePath: string, mode: number): TreeEntry {
  return { type: 'file', path: modulePath, mode, uid: 0, gid: 0, size: 1, sourcePath: `/nowhere${modulePath}` };
}

describe('set-id bits in a package tree', () => {
  it('keeps them on files of declared packages and strips them from dependencies, maintainer-script files and unowned files, naming each', async () => {
    const base = await dpkgRoot('base', {
      'passwd.list': ['/usr/bin/chfn', '/usr/bin/passwd'],
      'util-linux.list': ['/bin/su'],
      'sudo.list': ['/usr/bin/sudo-old'],
    });
    // The layer reinstalled sudo: its list in the layer is the one that counts.
    const layer = await dpkgRoot('layer', { 'sudo.list': ['/usr/bin/sudo'], 'libfoo1:amd64.list': ['/usr/lib/foo/helper'] });
    const entries: TreeEntry[] = [
      { type: 'directory', path: '/etc/redis', mode: 0o2770, uid: 0, gid: 101 },
      file('/usr/bin/chfn', 0o4755),
      file('/usr/bin/planted', 0o6755),
      file('/usr/bin/sudo', 0o4755),
      file('/usr/bin/sudo-old', 0o4755),
      file('/usr/bin/su', 0o4755),
      file('/usr/bin/tool', 0o755),
      file('/usr/lib/foo/helper', 0o2755),
    ];
    const { entries: kept, stripped } = await applySetIdPolicy(
      entries,
      [layer, base],
      declaredPackageNames(['sudo', 'util-linux:amd64', 'redis-server=5:7.0']),
    );
    const modes = new Map(kept.map((entry) => [entry.path, entry.mode]));
    expect(Object.fromEntries(modes)).toEqual({
      '/etc/redis': 0o2770,
      '/usr/bin/chfn': 0o755,
      '/usr/bin/planted': 0o755,
      '/usr/bin/sudo': 0o4755,
      // Listed by the base's sudo only; the layer's sudo no longer installs it.
      '/usr/bin/sudo-old': 0o755,
      // dpkg lists /bin/su, the merged-/usr tree holds /usr/bin/su.
      '/usr/bin/su': 0o4755,
      '/usr/bin/tool': 0o755,
      '/usr/lib/foo/helper': 0o755,
    });
    expect(stripped).toEqual([
      { path: '/usr/bin/chfn', mode: 0o4755, package: 'passwd' },
      { path: '/usr/bin/planted', mode: 0o6755 },
      { path: '/usr/bin/sudo-old', mode: 0o4755 },
      { path: '/usr/lib/foo/helper', mode: 0o2755, package: 'libfoo1' },
    ]);
  });

  it('does not read dpkg lists when no file carries a set-id bit', async () => {
    const entries = [file('/usr/bin/tool', 0o755)];
    expect(await applySetIdPolicy(entries, [path.join(work, 'absent')], new Set())).toEqual({ entries, stripped: [] });
  });

  it('reads package names and merged-/usr paths the way dpkg writes them', async () => {
    expect(packageOfListFile('libc6:amd64.list')).toBe('libc6');
    expect(packageOfListFile('redis-server.list')).toBe('redis-server');
    expect(packageOfListFile('redis-server.md5sums')).toBeUndefined();
    expect(usrMergedPath('/sbin/unix_chkpwd')).toBe('/usr/sbin/unix_chkpwd');
    expect(usrMergedPath('/binaries/x')).toBe('/binaries/x');
    expect(await readDpkgFileOwners([path.join(work, 'absent')])).toEqual(new Map());
    expect(stripUndeclaredSetIds([], new Map(), new Set())).toEqual({ entries: [], stripped: [] });
  });
});
