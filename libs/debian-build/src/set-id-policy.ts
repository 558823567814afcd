import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TreeEntry } from '@powernode/artifact';

/*
 * Which setuid and setgid bits a module's package tree keeps. A set-id program runs with its owner's or
 * group's rights on every machine that composes the module, so only the packages a module asks for by name
 * may bring one: a file keeps its bits when dpkg lists it as installed by a package of `package_spec` (for the
 * module providing base.os, by a package of the base system too, which it declares by being the base).
 * Everything else — files of packages pulled in as dependencies, files maintainer scripts wrote, files no
 * package owns — loses them, and the build reports each path. Directories keep a setgid bit: on a directory it
 * only makes new files inherit the group (`/etc/redis` 2770) and grants no rights.
 */

/** The setuid and setgid bits. */
export const SET_ID_BITS = 0o6000;

/** A file that lost its set-id bits in the build; `package` is the one dpkg says installed it, when one does. */
export interface StrippedSetId {
  path: string;
  /** The mode the file had (the artifact carries it without `SET_ID_BITS`). */
  mode: number;
  package?: string;
}

const DPKG_INFO = 'var/lib/dpkg/info';
const LIST_SUFFIX = '.list';
// Merged /usr (Debian 12, Ubuntu): dpkg may list /bin/su while the tree holds /usr/bin/su.
const USR_MERGED = /^\/(bin|sbin|lib|lib32|lib64|libx32)(\/|$)/;

/** The path a file has under merged /usr, so a dpkg list and the tree name it the same way. */
export function usrMergedPath(modulePath: string): string {
  return USR_MERGED.test(modulePath) ? `/usr${modulePath}` : modulePath;
}

/** The package a dpkg `.list` file belongs to (`redis-server.list`, `libc6:amd64.list` ⇒ `libc6`). */
export function packageOfListFile(fileName: string): string | undefined {
  if (!fileName.endsWith(LIST_SUFFIX)) return undefined;
  const name = fileName.slice(0, -LIST_SUFFIX.length).split(':')[0]!;
  return name === '' ? undefined : name;
}

/**
 * Who installed each path, from the dpkg `.list` files of `roots` (the captured layer first, then the base it
 * was installed on: a package the layer reinstalled is read from the layer). Paths in merged-/usr form.
 */
export async function readDpkgFileOwners(roots: readonly string[]): Promise<Map<string, string[]>> {
  const owners = new Map<string, string[]>();
  const listed = new Set<string>();
  for (const root of roots) {
    const infoDir = path.join(root, DPKG_INFO);
    const names = await readdir(infoDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    for (const fileName of names.sort()) {
      const pkg = packageOfListFile(fileName);
      if (pkg === undefined || listed.has(fileName)) continue;
      listed.add(fileName);
      for (const line of (await readFile(path.join(infoDir, fileName), 'utf8')).split('\n')) {
        if (!line.startsWith('/') || line === '/.') continue;
        const key = usrMergedPath(line);
        const list = owners.get(key) ?? [];
        if (!list.includes(pkg)) list.push(pkg);
        owners.set(key, list);
      }
    }
  }
  return owners;
}

/**
 * The tree with set-id bits cleared on every regular file no declared package installed, and the files that
 * lost them (sorted by path, as the tree is).
 */
export function stripUndeclaredSetIds(
  entries: readonly TreeEntry[],
  owners: ReadonlyMap<string, readonly string[]>,
  declared: ReadonlySet<string>,
): { entries: TreeEntry[]; stripped: StrippedSetId[] } {
  const stripped: StrippedSetId[] = [];
  const kept = entries.map((entry) => {
    if (entry.type !== 'file' || (entry.mode & SET_ID_BITS) === 0) return entry;
    const packages = owners.get(usrMergedPath(entry.path)) ?? [];
    if (packages.some((pkg) => declared.has(pkg))) return entry;
    stripped.push({ path: entry.path, mode: entry.mode, ...(packages[0] === undefined ? {} : { package: packages[0] }) });
    return { ...entry, mode: entry.mode & ~SET_ID_BITS };
  });
  return { entries: kept, stripped };
}

/**
 * `stripUndeclaredSetIds` with the owners read from the dpkg lists of `dpkgRoots` (captured layer first, then
 * its base), read only when some file carries a set-id bit.
 */
export async function applySetIdPolicy(
  entries: readonly TreeEntry[],
  dpkgRoots: readonly string[],
  declared: ReadonlySet<string>,
): Promise<{ entries: TreeEntry[]; stripped: StrippedSetId[] }> {
  if (!entries.some((entry) => entry.type === 'file' && (entry.mode & SET_ID_BITS) !== 0)) return { entries: [...entries], stripped: [] };
  return stripUndeclaredSetIds(entries, await readDpkgFileOwners(dpkgRoots), declared);
}

/** The package names of `package_spec` entries (`name`, `name:arch`, `name=version`). */
export function declaredPackageNames(packageSpec: readonly string[]): Set<string> {
  return new Set(packageSpec.map((entry) => entry.trim().split(/[:=]/)[0]!).filter((name) => name !== ''));
}
