import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Writes `size` random bytes to `file` in 8 MiB chunks (incompressible, so no layer of the stack shortcuts it). */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
    for (let written = 0; written < size; written += chunk.length) {
      randomFillSync(chunk);
      await handle.write(chunk, 0, Math.min(chunk.length, size - written));
    }
  } finally {
    await handle.close();
  }
}
