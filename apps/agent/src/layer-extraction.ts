import { createHash } from 'node:crypto';
import { lchown, lstat, mkdir, open, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { readTar, type ComposefsEntry, type TarEntry, type TreeMismatch } from '@powernode/artifact';
import { FsverityHasher } from '@powernode/fsverity';
import type { CompiledGlob } from '@powernode/globs';
import type { DirectoryModes } from './directory-modes.js';
import { hostPathOf } from './host-commands.js';

/** One module layer to extract into a composed root. */
export interface LayerToExtract {
  module_name: string;
  /** The cached tree layer. */
  layerPath: string;
  /** Digest and size the layer must have: checked over exactly the bytes that are extracted. */
  layer: { digest: string; size: number };
  /** The verified description of the tree (root excluded): every entry is checked against it as it is written. */
  entries: readonly ComposefsEntry[];
  /** The module's effective mask, compiled. */
  mask: readonly CompiledGlob[];
}

/** What one extraction did. */
export interface LayerExtractionResult {
  written: number;
  masked: string[];
}

/** Options of `extractLayer`. */
export interface ExtractLayerOptions {
  /** Set owners from the archive (only root may). */
  chown: boolean;
  /** Permission bits of every directory, applied once all layers are in; a path this layer replaces drops what was recorded below it. */
  directoryModes: DirectoryModes;
}

const READ_CHUNK = 1024 * 1024;

function mismatchError(moduleName: string, mismatch: TreeMismatch): PowernodeError {
  return new PowernodeError(
    'fsverity_mismatch',
    `fsverity verification failed: ${mismatch.path} (module ${moduleName}, ${mismatch.field}: expected ${mismatch.expected}, got ${mismatch.actual}); the cached layer changed after it was verified — it is not composed`,
    { details: { module_name: moduleName, path: mismatch.path, field: mismatch.field, expected: mismatch.expected, actual: mismatch.actual } },
  );
}

/** Why an extraction found no layer to read: the cached file is gone (the cache's GC or another agent removed it). */
export const CACHED_LAYER_MISSING = 'cached_layer_missing';

/** True for the error `extractLayer` throws when the cached layer is gone: pulling the module again repairs it. */
export function isMissingCachedLayer(error: unknown): error is PowernodeError & { details: { module_name: string; blob: string } } {
  return error instanceof PowernodeError && error.code === 'not_found' && error.details?.['reason'] === CACHED_LAYER_MISSING;
}

async function openCachedLayer(layer: LayerToExtract): Promise<FileHandle> {
  try {
    return await open(layer.layerPath, 'r');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    throw new PowernodeError(
      'not_found',
      `module ${layer.module_name}: the cached layer ${layer.layerPath} (${layer.layer.digest}) disappeared from the artifact cache after it was verified; it must be pulled again`,
      { cause, retryable: true, details: { reason: CACHED_LAYER_MISSING, module_name: layer.module_name, blob: layer.layer.digest, path: layer.layerPath } },
    );
  }
}

/**
 * Reads a file once, hashing every byte handed out. Closing the tar reader early does not stop it, so the
 * bytes after the archive's end marker are hashed too (`drain`) and the digest covers the whole file.
 */
class HashingFileSource implements AsyncIterable<Uint8Array> {
  readonly hash = createHash('sha256');
  size = 0;
  private position = 0;
  private finished = false;

  constructor(private readonly handle: FileHandle) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.next(), return: async () => ({ done: true, value: undefined }) };
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.finished) return { done: true, value: undefined };
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await this.handle.read(buffer, 0, READ_CHUNK, this.position);
    if (bytesRead === 0) {
      this.finished = true;
      return { done: true, value: undefined };
    }
    this.position += bytesRead;
    const chunk = buffer.subarray(0, bytesRead);
    this.hash.update(chunk);
    this.size += bytesRead;
    return { done: false, value: chunk };
  }

  async drain(): Promise<void> {
    while (!(await this.next()).done) {
      // hashed in next()
    }
  }
}

/**
 * Makes every ancestor of `modulePath` a real directory, never following a symlink: a lower layer's symlink
 * (or file) where this layer has a directory is replaced, as an upper overlay layer hides what is below it.
 */
async function ensureParentDirectories(root: string, modulePath: string): Promise<void> {
  const parts = modulePath.split('/').filter((part) => part !== '');
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = path.join(current, part);
    const stats = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (stats?.isDirectory() === true) continue;
    if (stats !== undefined) await rm(current, { force: true });
    await mkdir(current, { mode: 0o755 });
  }
}

/**
 * Removes whatever a lower layer left at `modulePath` unless it is a directory and `keepDirectory`. A removed
 * directory takes the modes recorded for it and below with it: they must never be applied to what now stands there.
 */
async function clearPath(root: string, modulePath: string, keepDirectory: boolean, directoryModes: DirectoryModes): Promise<boolean> {
  const hostPath = hostPathOf(root, modulePath);
  const stats = await lstat(hostPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) return false;
  if (stats.isDirectory()) {
    if (keepDirectory) return true;
    await rm(hostPath, { recursive: true, force: true });
    directoryModes.replaced(modulePath);
    return false;
  }
  await unlink(hostPath);
  return false;
}

function isUnder(modulePath: string, directories: readonly string[]): boolean {
  return directories.some((dir) => modulePath.startsWith(`${dir}/`));
}

async function drainBody(entry: TarEntry, hasher?: FsverityHasher, handle?: FileHandle): Promise<void> {
  for await (const chunk of entry.body) {
    hasher?.update(chunk);
    if (handle !== undefined) await handle.write(chunk);
  }
}

/**
 * Extracts one verified tree layer into `root` on top of the layers already there, skipping what the module's
 * effective mask selects (a masked directory with everything below it). The layer is verified again while it
 * is extracted — sha256 and size of the archive, and every entry's type, mode, owner, size, symlink target and
 * fs-verity digest against the description — because the cache is shared and the file may have been swapped
 * since the pull verified it. A mismatch throws (`digest_mismatch` or `fsverity_mismatch`) and the caller
 * discards the half-built root. A layer that is no longer in the cache throws `not_found` (see
 * `isMissingCachedLayer`). Nothing is ever written through a symlink.
 */
export async function extractLayer(root: string, layer: LayerToExtract, options: ExtractLayerOptions): Promise<LayerExtractionResult> {
  const expected = new Map(layer.entries.map((entry) => [entry.path, entry]));
  const seen = new Set<string>();
  const maskedDirectories: string[] = [];
  const masked: string[] = [];
  let written = 0;
  const handle = await openCachedLayer(layer);
  try {
    const source = new HashingFileSource(handle);
    for await (const entry of readTar(source)) {
      if (entry.path === '/') {
        await drainBody(entry);
        continue;
      }
      const want = expected.get(entry.path);
      const fail = (field: TreeMismatch['field'], wanted: unknown, actual: unknown): never => {
        throw mismatchError(layer.module_name, { path: entry.path, field, expected: String(wanted), actual: String(actual) });
      };
      if (want === undefined) fail('presence', 'absent', 'present');
      if (seen.has(entry.path)) fail('presence', 'one entry', 'listed twice');
      seen.add(entry.path);
      if (entry.type !== want!.type)
        fail('type', want!.type, entry.type === 'other' || entry.type === 'hardlink' ? `tar type flag ${JSON.stringify(entry.typeflag)}` : entry.type);
      if (entry.mode !== want!.mode) fail('mode', want!.mode.toString(8), entry.mode.toString(8));
      if (entry.uid !== want!.uid) fail('uid', want!.uid, entry.uid);
      if (entry.gid !== want!.gid) fail('gid', want!.gid, entry.gid);

      const isDirectory = entry.type === 'directory';
      const skip = isUnder(entry.path, maskedDirectories) || layer.mask.some((glob) => glob.match(entry.path, isDirectory));
      if (skip) masked.push(entry.path);
      const hostPath = hostPathOf(root, entry.path);
      switch (entry.type) {
        case 'directory': {
          if (skip) {
            maskedDirectories.push(entry.path);
            break;
          }
          await ensureParentDirectories(root, entry.path);
          if (!(await clearPath(root, entry.path, true, options.directoryModes))) await mkdir(hostPath, { mode: 0o700 });
          if (options.chown) await lchown(hostPath, entry.uid, entry.gid);
          options.directoryModes.set(entry.path, entry.mode);
          written += 1;
          break;
        }
        case 'symlink': {
          const target = entry.linkTarget ?? '';
          if (target !== want!.linkTarget) fail('link_target', want!.linkTarget, target);
          if (skip) break;
          await ensureParentDirectories(root, entry.path);
          await clearPath(root, entry.path, false, options.directoryModes);
          await symlink(target, hostPath);
          if (options.chown) await lchown(hostPath, entry.uid, entry.gid);
          written += 1;
          break;
        }
        case 'file': {
          if (entry.size !== want!.size) fail('size', want!.size, entry.size);
          const hasher = new FsverityHasher();
          if (skip) {
            await drainBody(entry, hasher);
          } else {
            await ensureParentDirectories(root, entry.path);
            await clearPath(root, entry.path, false, options.directoryModes);
            // `wx` creates a new file and refuses to open an existing one or a symlink.
            const file = await open(hostPath, 'wx', 0o600);
            try {
              await drainBody(entry, hasher, file);
              if (options.chown) await file.chown(entry.uid, entry.gid);
              // After chown, which clears set-id bits.
              await file.chmod(entry.mode);
            } finally {
              await file.close();
            }
            written += 1;
          }
          const digest = hasher.digest();
          if (digest !== want!.digest) fail('digest', want!.digest, digest);
          break;
        }
        case 'hardlink':
        case 'other':
          // Refused by the type check above; kept for exhaustiveness.
          fail('type', want!.type, entry.type);
          break;
        default: {
          const unreachable: never = entry.type;
          throw unreachable;
        }
      }
    }
    await source.drain();
    const digest = `sha256:${source.hash.digest('hex')}`;
    if (digest !== layer.layer.digest || source.size !== layer.layer.size) {
      throw new PowernodeError(
        'digest_mismatch',
        `module ${layer.module_name}: the cached layer ${layer.layerPath} hashes to ${digest} (${source.size} bytes) but must be ${layer.layer.digest} (${layer.layer.size} bytes); it changed after it was verified and is not composed`,
        { details: { module_name: layer.module_name, expected: layer.layer.digest, actual: digest } },
      );
    }
    for (const entry of layer.entries) {
      if (!seen.has(entry.path)) throw mismatchError(layer.module_name, { path: entry.path, field: 'presence', expected: 'present', actual: 'missing' });
    }
    return { written, masked };
  } finally {
    await handle.close();
  }
}
