import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';

/*
 * Extracted trees in an artifact cache: `<cache>/trees/<key>/` holds one verified tree layer extracted with a
 * module's effective mask (`root/`), shared read-only by every machine of the host that stacks it. Beside the
 * tree, `source.json` names the layer it came from and `entries.json` describes what it holds (the signed
 * description's entries it was verified against, without the masked ones). A tree goes after its layer blob
 * is gone (no instance desires or runs it, so the collector deleted it) and it has not been stacked for a
 * while: extracting a 200 MB base takes tens of seconds, so the next instance of a host that just terminated
 * its last one should find it.
 */

/** How long an unused tree is kept after its layer left the cache. */
export const EXTRACTED_TREE_RETENTION_MS = 3_600_000;

/** Which layer (and mask) a tree was extracted from. */
export interface ExtractedTreeSource {
  layer: string;
  mask: string[];
}

/** Beside each tree: its source. */
export const EXTRACTED_TREE_SOURCE = 'source.json';
/** Beside each tree: its entries as described (DescribedEntry[]), what a stacked root's description is computed from. */
export const EXTRACTED_TREE_ENTRIES = 'entries.json';

/** The directory of the tree of `layer` extracted with `mask` (order of the mask does not matter). */
export function extractedTreeDir(cacheDir: string, source: ExtractedTreeSource): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ layer: source.layer, mask: [...source.mask].sort() }))
    .digest('hex');
  return path.join(cacheDir, 'trees', key);
}

/** Records that a tree is stacked now (its source's mtime is its last use). */
export async function touchExtractedTree(treeDir: string, now: Date = new Date()): Promise<void> {
  await utimes(path.join(treeDir, EXTRACTED_TREE_SOURCE), now, now).catch(() => undefined);
}

/**
 * Deletes the trees whose layer blob is no longer in the cache (`<cache>/blobs/<alg>/<hex>`) and that were not
 * stacked for `retainMs`. A tree with no readable source (a staging directory, one extracted before sources
 * were recorded) is left alone.
 */
export async function collectExtractedTrees(cacheDir: string, options: { retainMs?: number; now?: Date } = {}): Promise<{ deleted: string[] }> {
  const retainMs = options.retainMs ?? EXTRACTED_TREE_RETENTION_MS;
  const now = (options.now ?? new Date()).getTime();
  const treesDir = path.join(cacheDir, 'trees');
  const names = await readdir(treesDir).catch(() => [] as string[]);
  const deleted: string[] = [];
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    let source: ExtractedTreeSource;
    let lastUse: number;
    try {
      const sourceFile = path.join(treesDir, name, EXTRACTED_TREE_SOURCE);
      source = JSON.parse(await readFile(sourceFile, 'utf8')) as ExtractedTreeSource;
      lastUse = (await stat(sourceFile)).mtimeMs;
    } catch {
      continue;
    }
    if (now - lastUse < retainMs) continue;
    const match = /^(sha256|sha512):([0-9a-f]+)$/.exec(source.layer ?? '');
    if (match === null) continue;
    if ((await stat(path.join(cacheDir, 'blobs', match[1]!, match[2]!)).catch(() => undefined)) !== undefined) continue;
    await rm(path.join(treesDir, name), { recursive: true, force: true });
    deleted.push(source.layer);
  }
  return { deleted: deleted.sort() };
}
