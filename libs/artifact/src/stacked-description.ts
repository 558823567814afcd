import type { DescribedEntry } from './composefs-description.js';

/**
 * What an overlay of layers shows, computed from the layers' descriptions instead of read from a mount.
 * Layers are given lowest first, each listing a directory before what it holds (as descriptions do). A
 * higher layer's entry replaces a lower one at the same path; a directory over a directory merges (the higher
 * one's owner and mode show); anything else over a directory hides everything below it, as overlayfs does.
 * Whiteouts and opaque directories are not modelled: layers that hold them cannot be described this way.
 */
export function stackDescriptions(layers: ReadonlyArray<readonly DescribedEntry[]>): DescribedEntry[] {
  const merged = new Map<string, DescribedEntry>();
  for (const layer of layers) {
    for (const entry of layer) {
      if (entry.path === '/') continue;
      const below = merged.get(entry.path);
      if (below?.type === 'directory' && entry.type !== 'directory') {
        const prefix = `${entry.path}/`;
        for (const path of merged.keys()) if (path.startsWith(prefix)) merged.delete(path);
      }
      merged.set(entry.path, entry);
    }
  }
  return [...merged.values()];
}
