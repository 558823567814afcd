import { open } from 'node:fs/promises';
import { PowernodeError } from '@powernode/contracts/errors';
import { FsverityHasher } from './merkle-tree.js';

// A multiple of the block size, large enough that the read syscall cost disappears and small enough to
// stay in cache while it is hashed.
const READ_CHUNK_SIZE = 1024 * 1024;

/** fs-verity digest (`sha256:<hex>`) of an in-memory byte string. */
export function fsverityDigestOfBuffer(bytes: Uint8Array): string {
  return new FsverityHasher().update(bytes).digest();
}

/**
 * fs-verity digest (`sha256:<hex>`) of a file, streamed in constant memory; the same value the kernel
 * reports for the file once verity is enabled, whatever the filesystem.
 */
export async function fsverityDigestOfFile(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new PowernodeError(
      code === 'ENOENT' ? 'not_found' : 'validation_failed',
      `cannot compute the fs-verity digest of ${path}: ${code === 'ENOENT' ? 'no such file' : (cause as Error).message}; pass a readable regular file`,
      { cause, details: { path } },
    );
  }
  try {
    const hasher = new FsverityHasher();
    // Two buffers: the next read runs on the thread pool while the current one is hashed.
    const buffers = [Buffer.allocUnsafe(READ_CHUNK_SIZE), Buffer.allocUnsafe(READ_CHUNK_SIZE)] as const;
    let current = 0;
    let position = 0;
    let nextRead = handle.read(buffers[0], 0, READ_CHUNK_SIZE, position);
    for (;;) {
      const { bytesRead } = await nextRead;
      if (bytesRead === 0) break;
      position += bytesRead;
      const filled = buffers[current];
      current ^= 1;
      nextRead = handle.read(buffers[current], 0, READ_CHUNK_SIZE, position);
      try {
        hasher.update(filled.subarray(0, bytesRead));
      } catch (error) {
        await nextRead.catch(() => undefined);
        throw error;
      }
    }
    return hasher.digest();
  } catch (cause) {
    if (cause instanceof PowernodeError) throw cause;
    throw new PowernodeError('validation_failed', `cannot read ${path} for its fs-verity digest: ${(cause as Error).message}`, {
      cause,
      details: { path },
    });
  } finally {
    await handle.close();
  }
}
