import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { digestWithAlgorithm } from '@powernode/oci';
import { writeFileAtomically } from '@powernode/host-machine';

/*
 * The artifact cache is an OCI-layout-like blob store shared by every agent of a machine:
 * `<cache>/blobs/<algorithm>/<hex>` holds a verified blob named by its digest — the manifest of every module
 * artifact the agent pulled, and its tree layer. Nothing is ever visible under a digest name before its bytes
 * were checked: a blob is written under a temporary name next to it (`<hex>.partial-<random>`, never a bare
 * digest, so the cache's garbage collection leaves it alone) and renamed into place. A cached tree layer is
 * re-hashed before every reuse (a bad one is deleted and pulled again). Config, composefs description and
 * SBOM blobs are small and pulled every time.
 *
 * The provisioner collects the cache: it deletes a blob only when a cached manifest accounts for it and no
 * remaining instance desires or runs that manifest. So the manifest is stored no later than the layers it
 * lists (a layer no manifest accounts for would be kept forever), and any entry may disappear between two
 * reconciles: the agent pulls again what is missing.
 */

const DIGEST_HEX: Record<string, RegExp> = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ };

/** `<cache>/blobs/sha256`. */
export function cacheBlobDir(cacheDir: string): string {
  return path.join(cacheDir, 'blobs', 'sha256');
}

/**
 * `<cache>/blobs/<algorithm>/<hex>` of a digest. The digest becomes a path, so anything but a sha256 or sha512
 * digest is refused (`validation_failed`).
 */
export function cachedBlobPath(cacheDir: string, digest: string): string {
  const [algorithm = '', hex = '', ...rest] = digest.split(':');
  if (rest.length > 0 || DIGEST_HEX[algorithm]?.test(hex) !== true) {
    throw new PowernodeError(
      'validation_failed',
      `"${digest}" is not a sha256:<64 hex> or sha512:<128 hex> digest, so it cannot name an artifact cache entry`,
      {
        details: { field: 'digest', digest },
      },
    );
  }
  return path.join(cacheDir, 'blobs', algorithm, hex);
}

/** Creates the cache layout (shared: group- and world-readable directories, content checked on use anyway). */
export async function ensureCacheLayout(cacheDir: string): Promise<void> {
  await mkdir(cacheBlobDir(cacheDir), { recursive: true, mode: 0o755 });
}

/**
 * The bytes cached under `digest` when they still hash to it; undefined when there is no such entry. An entry
 * with other bytes (or more than `maxBytes`) is deleted, so it is fetched again.
 */
export async function readCachedBlob(cacheDir: string, digest: string, maxBytes: number): Promise<Buffer | undefined> {
  const file = cachedBlobPath(cacheDir, digest);
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) return undefined;
  if (info.size <= maxBytes) {
    const bytes = await readFile(file).catch(() => undefined);
    if (bytes === undefined) return undefined; // removed meanwhile (the cache's garbage collection)
    if (digestWithAlgorithm(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256') === digest) return bytes;
  }
  await unlink(file).catch(() => undefined);
  return undefined;
}

/**
 * Stores bytes under their digest: written to `<hex>.partial-<random>`, flushed, renamed into place and the
 * directory flushed, so the entry is complete or absent. Bytes that do not hash to `digest` are refused
 * (`digest_mismatch`). Returns the entry's path.
 */
export async function storeCachedBlob(cacheDir: string, digest: string, bytes: Uint8Array): Promise<string> {
  const file = cachedBlobPath(cacheDir, digest);
  const actual = digestWithAlgorithm(bytes, digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  if (actual !== digest) {
    throw new PowernodeError('digest_mismatch', `refusing to cache ${bytes.length} bytes as ${digest}: they hash to ${actual}`, {
      details: { expected: digest, actual },
    });
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  // Readable by every agent sharing the cache whatever the umask (content is checked on use anyway).
  await writeFileAtomically(file, bytes, 0o644, { temporaryName: `${path.basename(file)}.partial-${randomBytes(4).toString('hex')}` });
  return file;
}

/** True for a "no such file" error about an entry of the cache: it disappeared while it was being used. */
export function isVanishedCacheEntry(error: unknown, cacheDir: string): boolean {
  const { code, path: file } = (error ?? {}) as NodeJS.ErrnoException;
  return code === 'ENOENT' && typeof file === 'string' && path.resolve(file).startsWith(path.join(path.resolve(cacheDir), 'blobs') + path.sep);
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
