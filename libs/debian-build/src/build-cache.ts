import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { canonicalJson } from '@powernode/contracts';

/*
 * The package build cache: base trees and captured layers, each in a directory named by the hash of every
 * input that shapes it. Work happens in a private directory under `tmp/` and is renamed into place in one
 * step, so a reader never sees half a tree and two concurrent builders cannot corrupt an entry: the second
 * rename fails and the loser discards its copy (both copies are the same by construction).
 */

/** `POWERNODE_BUILD_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/powernode/debian-build`. */
export function defaultBuildCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['POWERNODE_BUILD_CACHE']?.trim();
  if (explicit) return path.resolve(explicit);
  const xdg = env['XDG_CACHE_HOME']?.trim();
  return path.join(xdg ? path.resolve(xdg) : path.join(homedir(), '.cache'), 'powernode', 'debian-build');
}

/** The sha256 hex of a JSON value with sorted keys: a cache key that any change of an input changes. */
export function cacheKey(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** A fresh private work directory under `<cacheDir>/tmp`, on the same file system as the entries (rename is atomic). */
export async function newWorkDir(cacheDir: string, label: string): Promise<string> {
  const dir = path.join(cacheDir, 'tmp', `${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Moves a finished work directory to `finalDir`; when another builder got there first, keeps theirs and discards ours. */
export async function publishWorkDir(workDir: string, finalDir: string): Promise<void> {
  await mkdir(path.dirname(finalDir), { recursive: true });
  try {
    await rename(workDir, finalDir);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw cause;
    await rm(workDir, { recursive: true, force: true });
  }
}
