import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

/** The PATH isolated commands get, and the directories a bare program name is looked up in. */
export const ISOLATED_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const MAX_SYMLINKS = 40;

/**
 * Resolves a module path inside `root` as if `root` were `/`: symlinks are followed with absolute targets
 * taken from `root` and `..` never leaving it. Returns the resolved module path of a regular file, or
 * undefined when there is none (missing, a directory, a dangling or looping link).
 */
export async function resolveFileInRoot(root: string, modulePath: string): Promise<{ modulePath: string; mode: number } | undefined> {
  let pending = modulePath.split('/').filter((part) => part !== '');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const [part, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = path.join(root, ...resolved, part);
    const stats = await lstat(hostPath).catch(() => undefined);
    if (stats === undefined) return undefined;
    if (stats.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = await readlink(hostPath);
      const targetParts = target.split('/').filter((p) => p !== '');
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...targetParts, ...pending];
      continue;
    }
    if (pending.length > 0 && !stats.isDirectory()) return undefined;
    resolved.push(part);
    if (pending.length === 0) return stats.isFile() ? { modulePath: `/${resolved.join('/')}`, mode: stats.mode } : undefined;
  }
  return undefined;
}

/**
 * Finds the program of an argv inside a composed root the way execvp would inside it: a name with a `/` is
 * taken as is (relative to `/`), a bare name is searched in ISOLATED_PATH. Returns the module path to execute
 * (as the root sees it), or undefined when the root has no executable file by that name.
 */
export async function findExecutableInRoot(root: string, program: string): Promise<string | undefined> {
  const candidates = program.includes('/') ? [program.startsWith('/') ? program : `/${program}`] : ISOLATED_PATH.split(':').map((dir) => `${dir}/${program}`);
  for (const candidate of candidates) {
    const found = await resolveFileInRoot(root, candidate);
    if (found !== undefined && (found.mode & 0o111) !== 0) return candidate;
  }
  return undefined;
}
