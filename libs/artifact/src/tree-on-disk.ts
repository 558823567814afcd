import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { fsverityDigestOfFile } from '@powernode/fsverity';
import type { DescribedEntry } from './composefs-description.js';
import { compareModulePaths } from './module-tree.js';

/** Where a file's fs-verity digest comes from when describing a directory: hashing it, unless told. */
export type FileDigestSource = (modulePath: string, hostPath: string, size: number) => Promise<string>;

/**
 * Describes a directory as it is on disk (an extracted tree layer, a mounted module): every entry below
 * `root` with its actual mode, owner, size, symlink target and, for files, the fs-verity digest of its
 * content; sorted, root excluded. Feed it to `verifyTreeAgainstDescription` to check an extracted tree.
 * `fileDigest` may supply digests already known (files of verified layers) instead of reading every byte.
 */
export async function describeDirectory(
  root: string,
  fileDigest: FileDigestSource = (_path, hostPath) => fsverityDigestOfFile(hostPath),
): Promise<DescribedEntry[]> {
  const entries: DescribedEntry[] = [];
  const walk = async (hostDir: string, moduleDir: string): Promise<void> => {
    let children: Dirent[];
    try {
      children = await readdir(hostDir, { withFileTypes: true });
    } catch (cause) {
      throw new PowernodeError('not_found', `cannot list ${hostDir}: ${(cause as Error).message}`, { cause, details: { path: hostDir } });
    }
    for (const child of children) {
      const hostPath = path.join(hostDir, child.name);
      const modulePath = moduleDir === '/' ? `/${child.name}` : `${moduleDir}/${child.name}`;
      const stats = await lstat(hostPath);
      const common = { path: modulePath, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
      if (stats.isDirectory()) {
        entries.push({ ...common, type: 'directory', size: 0 });
        await walk(hostPath, modulePath);
      } else if (stats.isFile()) {
        entries.push({ ...common, type: 'file', size: stats.size, digest: await fileDigest(modulePath, hostPath, stats.size) });
      } else if (stats.isSymbolicLink()) {
        const linkTarget = await readlink(hostPath);
        entries.push({ ...common, type: 'symlink', size: Buffer.byteLength(linkTarget, 'utf8'), linkTarget });
      } else {
        throw new PowernodeError('fsverity_mismatch', `fsverity verification failed: ${modulePath} (a device, socket or FIFO, which no module ships)`, {
          details: { path: modulePath, field: 'type' },
        });
      }
    }
  };
  await walk(root, '/');
  return entries.sort((a, b) => compareModulePaths(a.path, b.path));
}
