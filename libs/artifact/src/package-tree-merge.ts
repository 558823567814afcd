import { PowernodeError } from '@powernode/contracts';
import type { CompiledGlob } from '@powernode/globs';
import { compareModulePaths, type TreeEntry } from './module-tree.js';

/*
 * How a module's installed packages and its rootfs/ become one tree. rootfs/ is the author's word: a rootfs
 * file or symlink replaces the package entry at the same path, verbatim. A directory present in both keeps
 * the package's owner and mode, because rootfs/ directory modes are normalised placeholders while the
 * package's (`/etc/redis` owned by redis, mode 2770) are what the software needs. `mask` is applied to the
 * merged tree afterwards, with rsync semantics.
 */

function isBelow(candidate: string, directory: string): boolean {
  return candidate.startsWith(directory === '/' ? '/' : `${directory}/`);
}

/** Merges the package tree and the rootfs tree: rootfs wins on files and symlinks, packages keep their directories. Sorted output. */
export function mergePackageAndRootfsTrees(packageEntries: readonly TreeEntry[], rootfsEntries: readonly TreeEntry[]): TreeEntry[] {
  const merged = new Map<string, TreeEntry>(packageEntries.map((entry) => [entry.path, entry]));
  const replacedDirectories: string[] = [];
  for (const entry of rootfsEntries) {
    const existing = merged.get(entry.path);
    if (existing?.type === 'directory' && entry.type === 'directory') continue;
    if (existing?.type === 'symlink' && entry.type === 'directory') {
      throw new PowernodeError(
        'manifest_invalid',
        `rootfs${entry.path} is a directory but the installed packages make ${entry.path} a symlink to ${existing.linkTarget}; move those files under the link's target in rootfs/`,
        { details: { file: `rootfs${entry.path}`, link_target: existing.linkTarget } },
      );
    }
    if (existing?.type === 'directory') replacedDirectories.push(entry.path);
    merged.set(entry.path, entry);
  }
  // A package directory replaced by a rootfs file takes its package contents with it.
  const rootfs = new Set(rootfsEntries);
  return [...merged.values()]
    .filter((entry) => rootfs.has(entry) || !replacedDirectories.some((directory) => isBelow(entry.path, directory)))
    .sort((a, b) => compareModulePaths(a.path, b.path));
}

/** The sorted tree minus what `mask` matches; a masked directory takes everything below it (rsync semantics). */
export function applyMask(entries: readonly TreeEntry[], mask: readonly CompiledGlob[]): TreeEntry[] {
  if (mask.length === 0) return [...entries];
  const kept: TreeEntry[] = [];
  let maskedDirectory: string | undefined;
  for (const entry of entries) {
    if (maskedDirectory !== undefined && isBelow(entry.path, maskedDirectory)) continue;
    maskedDirectory = undefined;
    const isDirectory = entry.type === 'directory';
    if (mask.some((glob) => glob.match(entry.path, isDirectory))) {
      if (isDirectory) maskedDirectory = entry.path;
      continue;
    }
    kept.push(entry);
  }
  return kept;
}
