import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError, type ModuleManifest } from '@powernode/contracts';
import { compileGlob, type CompiledGlob } from '@powernode/globs';

/*
 * The module's file tree as it ships: every entry of rootfs/ (copied verbatim, as the tutorial says) minus
 * what `mask` excludes. Paths are absolute module paths (`/etc/redis/redis.conf`). rootfs/ entries are
 * always root:root with normalised modes (directories 0755, files 0644 or 0755 when any execute bit is set,
 * symlinks 0777), so that the checkout's umask, owner and timestamps never reach the artifact: a set-id bit
 * on a rootfs/ file never ships. Entries that come from installed Debian packages keep their real owner and
 * mode, sticky and directory setgid included; the package build leaves setuid/setgid on a file only when a
 * package of package_spec installed it (`@powernode/debian-build`, set-id-policy.ts).
 */

/** A directory of the module tree. */
export interface TreeDirectory {
  type: 'directory';
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** A regular file of the module tree; `sourcePath` is where its bytes are read from at build time. */
export interface TreeFile {
  type: 'file';
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sourcePath: string;
}

/** A symbolic link of the module tree, its target kept verbatim. */
export interface TreeSymlink {
  type: 'symlink';
  path: string;
  mode: number;
  uid: number;
  gid: number;
  linkTarget: string;
}

/** One entry of the module tree. */
export type TreeEntry = TreeDirectory | TreeFile | TreeSymlink;

/** Kinds of entry a module tree may hold. */
export type TreeEntryType = TreeEntry['type'];

/** Normalised permission bits: the only modes an artifact carries. */
export const DIRECTORY_MODE = 0o755;
export const FILE_MODE = 0o644;
export const EXECUTABLE_FILE_MODE = 0o755;
export const SYMLINK_MODE = 0o777;

/** The normalised mode of an entry: 0755 for directories, 0777 for symlinks, 0755/0644 for files by execute bit. */
export function normalisedMode(type: TreeEntryType, sourceMode: number): number {
  switch (type) {
    case 'directory':
      return DIRECTORY_MODE;
    case 'symlink':
      return SYMLINK_MODE;
    case 'file':
      return (sourceMode & 0o111) !== 0 ? EXECUTABLE_FILE_MODE : FILE_MODE;
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
}

/** Orders module paths by their UTF-8 bytes: locale-independent, and every directory sorts before its contents. */
export function compareModulePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Compiles the manifest's `mask`; a bad glob is a `manifest_invalid` naming `mask[i]`. */
export function compileMask(mask: readonly string[] | undefined): CompiledGlob[] {
  return (mask ?? []).map((pattern, index) => {
    try {
      return compileGlob(pattern);
    } catch (cause) {
      throw new PowernodeError('manifest_invalid', `mask[${index}] ${(cause as Error).message}; fix the glob in manifest.yaml`, {
        cause,
        details: { field: `mask[${index}]`, pattern },
      });
    }
  });
}

function joinModulePath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function entryTypeOf(stats: Stats | Dirent): TreeEntryType | undefined {
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  return undefined;
}

/**
 * The sorted entries (directories, regular files, symlinks) of `<dir>/rootfs` minus the manifest's `mask`,
 * with rsync semantics: a masked directory is not descended into. A module without rootfs/ has an empty
 * tree. Sockets, devices and FIFOs are refused (`manifest_invalid`): an artifact cannot carry them.
 */
export async function readModuleTree(dir: string, manifest: Pick<ModuleManifest, 'mask'>): Promise<TreeEntry[]> {
  const rootfs = path.join(dir, 'rootfs');
  let rootStats: Stats;
  try {
    rootStats = await lstat(rootfs);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PowernodeError('manifest_invalid', `cannot read ${rootfs}: ${(cause as Error).message}`, { cause, details: { file: 'rootfs' } });
  }
  if (!rootStats.isDirectory()) {
    throw new PowernodeError('manifest_invalid', `${rootfs} is not a directory; rootfs/ must be a plain directory holding the module's files`, {
      details: { file: 'rootfs' },
    });
  }

  const mask = compileMask(manifest.mask);
  const masked = (modulePath: string, isDir: boolean): boolean => mask.some((glob) => glob.match(modulePath, isDir));
  const entries: TreeEntry[] = [];

  const walk = async (hostDir: string, moduleDir: string): Promise<void> => {
    let children: Dirent[];
    try {
      children = await readdir(hostDir, { withFileTypes: true });
    } catch (cause) {
      throw new PowernodeError('manifest_invalid', `cannot list ${hostDir}: ${(cause as Error).message}; make rootfs/ readable`, {
        cause,
        details: { file: path.relative(dir, hostDir) },
      });
    }
    for (const child of children) {
      const hostPath = path.join(hostDir, child.name);
      const modulePath = joinModulePath(moduleDir, child.name);
      const type = entryTypeOf(child);
      if (type === undefined) {
        throw new PowernodeError(
          'manifest_invalid',
          `rootfs${modulePath} is neither a regular file, a directory nor a symlink; a module can only ship those — remove it or mask it`,
          { details: { file: `rootfs${modulePath}` } },
        );
      }
      if (masked(modulePath, type === 'directory')) continue;
      switch (type) {
        case 'directory':
          entries.push({ type, path: modulePath, mode: DIRECTORY_MODE, uid: 0, gid: 0 });
          await walk(hostPath, modulePath);
          break;
        case 'file': {
          const stats = await lstat(hostPath);
          entries.push({ type, path: modulePath, mode: normalisedMode(type, stats.mode), uid: 0, gid: 0, size: stats.size, sourcePath: hostPath });
          break;
        }
        case 'symlink':
          entries.push({ type, path: modulePath, mode: SYMLINK_MODE, uid: 0, gid: 0, linkTarget: await readlink(hostPath) });
          break;
        default: {
          const unreachable: never = type;
          throw unreachable;
        }
      }
    }
  };
  await walk(rootfs, '/');
  return entries.sort((a, b) => compareModulePaths(a.path, b.path));
}
