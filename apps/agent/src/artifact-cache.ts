import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/*
 * The artifact cache is an OCI-layout-like blob store shared by every agent of a machine:
 * `<cache>/blobs/sha256/<hex>` holds a verified tree layer. `pullModuleArtifact` writes a blob under a
 * temporary name next to it (`<hex>.partial-<random>`) and renames it into place only once its digest checked
 * out, so a reader never sees a partial blob, and re-hashes a cached blob before every reuse (a bad one is
 * deleted and pulled again). Config, composefs description and SBOM blobs are small and pulled every time.
 */

/** `<cache>/blobs/sha256`. */
export function cacheBlobDir(cacheDir: string): string {
  return path.join(cacheDir, 'blobs', 'sha256');
}

/** Creates the cache layout (shared: group- and world-readable directories, content checked on use anyway). */
export async function ensureCacheLayout(cacheDir: string): Promise<void> {
  await mkdir(cacheBlobDir(cacheDir), { recursive: true, mode: 0o755 });
}

/**
 * Removes temporary download files nobody has written to for `idleMs`: left by an agent killed mid-pull. A
 * download in progress (another agent's) keeps touching its file and is left alone.
 */
export async function removeAbandonedDownloads(cacheDir: string, idleMs: number, now = Date.now()): Promise<string[]> {
  const dir = cacheBlobDir(cacheDir);
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.includes('.partial-')) continue;
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || now - info.mtimeMs < idleMs) continue;
    await unlink(file).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
