import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { compareModulePaths, type TreeEntry } from '@powernode/artifact';
import { childModulePath, entryFromStats } from './tree-entries.js';

/*
 * An overlay upper directory after `apt-get install` holds what the install added or changed, plus noise:
 * apt's caches and lists, dpkg's locks and backups, logs, and files dpkg or debconf rewrote with the same
 * bytes. The module layer is the upper minus that noise. A whiteout or an opaque directory means the install
 * deleted something of the base: a layer cannot express that, so it is reported, not shipped.
 */

// Paths (relative to the root) that are never part of a layer: state of the tools, not of the system.
const NOISE = [
  /^var\/cache\/apt\/./,
  /^var\/lib\/apt\/lists\/./,
  /^var\/lib\/dpkg\/lock/,
  /^var\/lib\/dpkg\/[^/]*-old$/,
  /^etc\/\.pwd\.lock$/,
  /^var\/cache\/debconf\/[^/]*-old$/,
  /^var\/cache\/ldconfig\/aux-cache$/,
  /^etc\/(passwd|group|shadow|gshadow)-$/,
  /^usr\/sbin\/policy-rc\.d$/,
  // Run-time directories: a booted machine mounts fresh tmpfs there (adduser leaves its lock in /run).
  /^run\/./,
  /^tmp\/./,
];
// Log files are run-time output; the directories packages create for them (owned by the service user) are kept.
const LOG_FILE = /^var\/log\/./;

/** True when a path relative to the root is tool state or a log file, which no layer ships. */
export function isLayerNoise(relativePath: string, isDirectory: boolean): boolean {
  if (NOISE.some((pattern) => pattern.test(relativePath))) return true;
  return !isDirectory && LOG_FILE.test(relativePath);
}

/** The module layer of a captured upper: sorted entries (with the directories leading to them), deleted base paths, warnings. */
export interface FilteredLayer {
  entries: TreeEntry[];
  /** Base paths the install removed (whiteouts, opaque directories), sorted. */
  deleted: string[];
  warnings: string[];
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await sha256Of(a)) === (await sha256Of(b));
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch {
    return undefined;
  }
}

/** True when the upper entry is byte-for-byte and attribute-for-attribute what the base already has. */
async function unchangedFromBase(entry: TreeEntry, upperStats: Stats, lowerPath: string): Promise<boolean> {
  const lowerStats = await lstatOrUndefined(lowerPath);
  if (lowerStats === undefined) return false;
  if ((lowerStats.mode & 0o7777) !== (upperStats.mode & 0o7777) || lowerStats.uid !== upperStats.uid || lowerStats.gid !== upperStats.gid) return false;
  switch (entry.type) {
    case 'directory':
      return lowerStats.isDirectory();
    case 'symlink':
      return lowerStats.isSymbolicLink() && (await readlink(lowerPath)) === entry.linkTarget;
    case 'file':
      return lowerStats.isFile() && lowerStats.size === entry.size && (await sameBytes(entry.sourcePath, lowerPath));
    default: {
      const unreachable: never = entry;
      return unreachable;
    }
  }
}

/**
 * Filters a captured upper against its lower (the base tree): drops tool noise and touched-but-unchanged
 * entries, turns hard links into plain files, returns whiteouts and `deleted` base paths (opaque directories,
 * found while the overlay was mounted) apart, and special files as warnings. A directory is kept when it is new or
 * changed, or when something below it is kept.
 */
export async function filterCapturedUpper(upper: string, lower: string, deleted: readonly string[] = []): Promise<FilteredLayer> {
  const entries: TreeEntry[] = [];
  const warnings: string[] = [];
  const reportedDeletions = new Set(deleted);
  const walk = async (relativeDir: string): Promise<boolean> => {
    let kept = false;
    for (const name of await readdir(path.join(upper, relativeDir))) {
      const relative = relativeDir === '' ? name : `${relativeDir}/${name}`;
      const hostPath = path.join(upper, relative);
      const modulePath = childModulePath(relativeDir === '' ? '/' : `/${relativeDir}`, name);
      const stats = await lstat(hostPath);
      if (isLayerNoise(relative, stats.isDirectory())) continue;
      const entry = await entryFromStats(modulePath, hostPath, stats);
      if (entry === undefined) {
        if (stats.isCharacterDevice() && stats.rdev === 0) reportedDeletions.add(modulePath);
        else warnings.push(`${modulePath}: a socket, FIFO or device node, which a module cannot ship; left out`);
        continue;
      }
      if (entry.type === 'directory') {
        const index = entries.length;
        const below = await walk(relative);
        if (below || !(await unchangedFromBase(entry, stats, path.join(lower, relative)))) {
          entries.splice(index, 0, entry);
          kept = true;
        }
        continue;
      }
      if (await unchangedFromBase(entry, stats, path.join(lower, relative))) continue;
      entries.push(entry);
      kept = true;
    }
    return kept;
  };
  await walk('');
  return { entries: entries.sort((a, b) => compareModulePaths(a.path, b.path)), deleted: [...reportedDeletions].sort(compareModulePaths), warnings };
}
