import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '@powernode/host-machine';

/*
 * "The tree layer with sha256 X matches the composefs description whose fs-verity digest is R" is a fact about
 * two content addresses, true forever once checked: a cache records it so that the next pull of the same
 * artifact does not parse and re-hash every file of a 200 MB layer again. The cached layer file itself is
 * still checked against its sha256 on every reuse, which ties its bytes to X.
 */

function recordPath(cacheDir: string, layerDigest: string, rootHash: string): string {
  const hex = (digest: string) => digest.slice(digest.indexOf(':') + 1);
  return path.join(cacheDir, 'verified', `${hex(layerDigest)}.${hex(rootHash)}`);
}

/** Whether `layerDigest` was verified against the description with root hash `rootHash` in this cache. */
export async function layerWasVerified(cacheDir: string, layerDigest: string, rootHash: string): Promise<boolean> {
  return (await stat(recordPath(cacheDir, layerDigest, rootHash)).catch(() => undefined))?.isFile() === true;
}

/** Records a successful verification; written atomically, so a record that exists is complete. */
export async function recordVerifiedLayer(cacheDir: string, layerDigest: string, rootHash: string): Promise<void> {
  const target = recordPath(cacheDir, layerDigest, rootHash);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFileAtomically(target, `${new Date().toISOString()}\n`, 0o644);
}
