import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory } from '@powernode/host-machine';

/*
 * Layout of the sandbox:
 *
 *   roots/<generation>/    one composed root per generation (a suffix when that name is taken)
 *   roots/.staging-…/      a root being built; never pointed at
 *   current -> roots/<generation>   the symlink isolated commands run in; replaced by renaming a temporary
 *                                   symlink over it, so it always names a complete root
 */

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `<sandbox>/roots`. */
export function rootsDir(sandboxDir: string): string {
  return path.join(sandboxDir, 'roots');
}

/** `<sandbox>/current`. */
export function currentLink(sandboxDir: string): string {
  return path.join(sandboxDir, 'current');
}

/** The directory name of a generation's root: the generation itself when it is a safe file name, else a hash of it. */
export function rootNameFor(generation: string): string {
  return SAFE_NAME.test(generation) ? generation : `g-${createHash('sha256').update(generation).digest('hex').slice(0, 32)}`;
}

/** A fresh staging directory path under roots/. */
export function stagingPathFor(sandboxDir: string, generation: string): string {
  return path.join(rootsDir(sandboxDir), `.staging-${rootNameFor(generation)}-${randomBytes(4).toString('hex')}`);
}

/** The root directory (relative to the sandbox, e.g. `roots/7`) `current` names, or null when there is none. */
export async function readCurrentRoot(sandboxDir: string): Promise<string | null> {
  try {
    return await readlink(currentLink(sandboxDir));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EINVAL') return null;
    throw error;
  }
}

/**
 * Moves a finished staging root to its final name under roots/ and returns that name relative to the sandbox.
 * The generation's own name is used unless something (the running root) already holds it.
 */
export async function publishRoot(sandboxDir: string, stagingDir: string, generation: string): Promise<string> {
  const base = rootNameFor(generation);
  const taken = new Set(await readdir(rootsDir(sandboxDir)));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}~${n}`;
  await rename(stagingDir, path.join(rootsDir(sandboxDir), name));
  return path.join('roots', name);
}

/**
 * Points `current` at `rootRelative` atomically: a new symlink under a temporary name is renamed over the old
 * one (rename(2) replaces it in one step), then the sandbox directory is flushed.
 */
export async function switchCurrentRoot(sandboxDir: string, rootRelative: string): Promise<void> {
  const temporary = path.join(sandboxDir, `.current-${randomBytes(4).toString('hex')}`);
  await symlink(rootRelative, temporary);
  try {
    await rename(temporary, currentLink(sandboxDir));
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(sandboxDir);
}

/** Removes one root directory (relative to the sandbox); never the one `current` names. */
export async function removeRoot(sandboxDir: string, rootRelative: string): Promise<void> {
  if ((await readCurrentRoot(sandboxDir)) === rootRelative) return;
  await rm(path.join(sandboxDir, rootRelative), { recursive: true, force: true });
}

/** Removes every root but the one `current` names, and stray temporary symlinks (left by a crash). */
export async function removeStaleRoots(sandboxDir: string): Promise<string[]> {
  await mkdir(rootsDir(sandboxDir), { recursive: true, mode: 0o755 });
  const current = await readCurrentRoot(sandboxDir);
  const removed: string[] = [];
  for (const name of await readdir(rootsDir(sandboxDir))) {
    const relative = path.join('roots', name);
    if (relative === current) continue;
    await rm(path.join(sandboxDir, relative), { recursive: true, force: true });
    removed.push(relative);
  }
  for (const name of await readdir(sandboxDir)) {
    if (name.startsWith('.current-')) await unlink(path.join(sandboxDir, name)).catch(() => undefined);
  }
  return removed;
}
