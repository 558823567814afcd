import { chmodDirectoryInRoot } from './root-confinement.js';

/**
 * The permission bits of the directories laid down in a root, applied once every layer is in (so a read-only
 * directory can still be filled). Keyed by module path: an entry that replaces a path (a file or symlink where
 * a directory was) drops what was recorded for it and below, since those directories are gone and the path may
 * now lead out of the root. Applying never follows a symlink either.
 */
export class DirectoryModes {
  private readonly modes = new Map<string, number>();

  /** The directory at `modulePath` gets `mode` (the last layer to ship it wins). */
  set(modulePath: string, mode: number): void {
    this.modes.set(modulePath, mode);
  }

  /** Something other than the recorded directories now stands at `modulePath`. */
  replaced(modulePath: string): void {
    const prefix = `${modulePath}/`;
    for (const recorded of this.modes.keys()) if (recorded === modulePath || recorded.startsWith(prefix)) this.modes.delete(recorded);
  }

  /** Applies every mode under `root`, deepest first, so a directory made read-only does not stop a change below it. */
  async apply(root: string): Promise<void> {
    const depth = (modulePath: string): number => modulePath.split('/').length;
    const byDepth = [...this.modes.entries()].sort(([a], [b]) => depth(b) - depth(a));
    for (const [modulePath, mode] of byDepth) await chmodDirectoryInRoot(root, modulePath, mode);
  }
}
