import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /**
   * The temporary file's name, in the target's directory (rename is atomic only within one file system), for
   * a directory whose sweeper recognises its own leftovers. Default: `.<name>.<pid>.<random>.tmp`.
   */
  temporaryName?: string;
}

/**
 * Writes a file so that readers see the old content or the new one, never a torn mix: a temporary file in
 * the same directory, flushed, renamed over the target, and the directory flushed so the rename survives a
 * power cut. The file gets `mode` whatever the umask.
 */
export async function writeFileAtomically(file: string, content: string | Uint8Array, mode = 0o600, options: AtomicWriteOptions = {}): Promise<void> {
  const temporaryName = options.temporaryName ?? `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const temporary = path.join(path.dirname(file), path.basename(temporaryName));
  const handle = await open(temporary, 'wx', mode);
  let renamed = false;
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    await rename(temporary, file);
    renamed = true;
    await syncDirectory(path.dirname(file));
  } finally {
    if (!renamed) {
      await handle.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
    }
  }
}

/** Flushes a directory's entries (a rename or a new symlink in it) to disk. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
