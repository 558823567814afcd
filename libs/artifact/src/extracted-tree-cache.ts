import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/*
 * Extracted trees in an artifact cache: `<cache>/trees/<key>/` holds one verified tree layer extracted with a
 * module's effective mask (`root/`), shared read-only by every machine of the host that stacks it. Beside the
 * tree, `source.json` names the layer it came from and `files.json` the digests of the files it holds (taken
 * from the signed description when it was verified). The layer blob's lifetime is the tree's: once the cache
 * collector deleted the blob (no instance desires or runs it), the tree goes too.
 */

/** Which layer (and mask) a tree was extracted from. */
export interface ExtractedTreeSource {
  layer: string;
  mask: string[];
}

/** Beside each tree: its source. */
export const EXTRACTED_TREE_SOURCE = 'source.json';
/** Beside each tree: the files it holds, path → [size, fs-verity digest]. */
export const EXTRACTED_TREE_FILES = 'files.json';

/** The directory of the tree of `layer` extracted with `mask` (order of the mask does not matter). */
export function extractedTreeDir(cacheDir: string, source: ExtractedTreeSource): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ layer: source.layer, mask: [...source.mask].sort() }))
    .digest('hex');
  return path.join(cacheDir, 'trees', key);
}

/**
 * Deletes the trees whose layer blob is no longer in the cache (`<cache>/blobs/<alg>/<hex>`). A tree with no
 * readable source (a staging directory, one extracted before sources were recorded) is left alone.
 */
export async function collectExtractedTrees(cacheDir: string): Promise<{ deleted: string[] }> {
  const treesDir = path.join(cacheDir, 'trees');
  const names = await readdir(treesDir).catch(() => [] as string[]);
  const deleted: string[] = [];
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    let source: ExtractedTreeSource;
    try {
      source = JSON.parse(await readFile(path.join(treesDir, name, EXTRACTED_TREE_SOURCE), 'utf8')) as ExtractedTreeSource;
    } catch {
      continue;
    }
    const match = /^(sha256|sha512):([0-9a-f]+)$/.exec(source.layer ?? '');
    if (match === null) continue;
    if ((await stat(path.join(cacheDir, 'blobs', match[1]!, match[2]!)).catch(() => undefined)) !== undefined) continue;
    await rm(path.join(treesDir, name), { recursive: true, force: true });
    deleted.push(source.layer);
  }
  return { deleted: deleted.sort() };
}
