import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { compareModulePaths, type TreeEntry } from '@powernode/artifact';

/** A module path below `parent` (`/` joins without doubling the slash). */
export function childModulePath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** The tree entry of a host path with its real owner and full mode; undefined for sockets, FIFOs and devices. Hard links become plain files. */
export async function entryFromStats(modulePath: string, hostPath: string, stats: Stats): Promise<TreeEntry | undefined> {
  const common = { path: modulePath, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
  if (stats.isDirectory()) return { ...common, type: 'directory' };
  if (stats.isFile()) return { ...common, type: 'file', size: stats.size, sourcePath: hostPath };
  if (stats.isSymbolicLink()) return { ...common, type: 'symlink', linkTarget: await readlink(hostPath) };
  return undefined;
}

/** A special file (device, socket, FIFO) a tree held and an artifact cannot. */
export interface SkippedSpecialFile {
  path: string;
  stats: Stats;
}

/** Every entry below `root`, sorted, with real owners and modes; special files are returned apart. */
export async function readFullTree(root: string): Promise<{ entries: TreeEntry[]; special: SkippedSpecialFile[] }> {
  const entries: TreeEntry[] = [];
  const special: SkippedSpecialFile[] = [];
  const walk = async (hostDir: string, moduleDir: string): Promise<void> => {
    for (const name of await readdir(hostDir)) {
      const hostPath = path.join(hostDir, name);
      const modulePath = childModulePath(moduleDir, name);
      const stats = await lstat(hostPath);
      const entry = await entryFromStats(modulePath, hostPath, stats);
      if (entry === undefined) {
        special.push({ path: modulePath, stats });
        continue;
      }
      entries.push(entry);
      if (entry.type === 'directory') await walk(hostPath, modulePath);
    }
  };
  await walk(root, '/');
  return { entries: entries.sort((a, b) => compareModulePaths(a.path, b.path)), special };
}
