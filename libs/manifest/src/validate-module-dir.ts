import type { ManifestValidationResult } from '@powernode/contracts';
import type { Dirent } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { IssueCollector } from './manifest-issues.js';
import type { IndexedGlob } from './manifest-semantics.js';
import { analyzeManifestYaml, type ManifestAnalysis } from './validate-manifest-yaml.js';

// The dry run of a module repository: manifest.yaml checked as by validateManifestYaml, plus what only the
// directory can tell about rootfs/. Decisions:
//  - an uncovered rootfs file is a WARNING: rootfs/ is copied verbatim into the module (tutorial 02, step 3),
//    so the file ships whether or not file_spec names it; what the author loses is the claim — conflict checks
//    that read file_spec before a build cannot see the path. The warning says how to claim it, or to leave it;
//  - `.gitkeep` files only exist to keep a directory in git; their warning speaks about the directory;
//  - a rootfs file excluded by `mask` (itself or a directory above it) is an ERROR: it can never ship, so the
//    tree in the repository lies about the module (a `.gitkeep` only warns, as only the empty directory is lost);
//  - a file_spec glob matching nothing under rootfs/ is a WARNING only when the module installs no packages
//    (package_spec empty): otherwise the packages are expected to provide those paths;
//  - a rootfs file with a setuid or setgid bit is a WARNING: the build normalises rootfs/ modes, so the bit is
//    stripped (a set-id program ships only from a Debian package the module declares in package_spec).
// Coverage uses rsync semantics: a file is covered when a file_spec glob matches the file itself; a glob that
// matches only its directory (`/etc/redis/` or `/etc/redis`) does not cover what is inside.

/** An entry of rootfs/ as a module path (`/etc/redis/redis.conf`). */
interface RootfsEntry {
  readonly path: string;
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly detail: string;
  /** Permission bits of a regular file. */
  readonly mode?: number;
}

const SET_ID_BITS = 0o6000;

const MANIFEST_FILE = 'manifest.yaml';
const ROOTFS_DIR = 'rootfs';
const GITKEEP = '.gitkeep';

function kindOf(entry: Dirent): { kind: RootfsEntry['kind']; detail: string } {
  if (entry.isDirectory()) return { kind: 'directory', detail: 'directory' };
  if (entry.isFile()) return { kind: 'file', detail: 'file' };
  if (entry.isSymbolicLink()) return { kind: 'symlink', detail: 'symlink' };
  if (entry.isFIFO()) return { kind: 'other', detail: 'named pipe' };
  if (entry.isSocket()) return { kind: 'other', detail: 'socket' };
  return { kind: 'other', detail: 'device node' };
}

/** Lists rootfs/ depth-first without following symlinks, sorted by path. */
async function listRootfs(root: string): Promise<RootfsEntry[]> {
  const entries: RootfsEntry[] = [];
  const walk = async (dir: string, modulePath: string): Promise<void> => {
    const children = await readdir(dir, { withFileTypes: true });
    for (const child of children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childPath = `${modulePath}/${child.name}`;
      const { kind, detail } = kindOf(child);
      const mode = kind === 'file' ? (await lstat(path.join(dir, child.name))).mode & 0o7777 : undefined;
      entries.push({ path: childPath, kind, detail, ...(mode === undefined ? {} : { mode }) });
      if (kind === 'directory') await walk(path.join(dir, child.name), childPath);
    }
  };
  await walk(root, '');
  return entries;
}

function ancestorsOf(modulePath: string): string[] {
  const parts = modulePath.split('/').slice(1, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

function maskingEntry(mask: readonly IndexedGlob[], modulePath: string): { entry: IndexedGlob; via: string } | undefined {
  for (const dir of ancestorsOf(modulePath)) {
    const entry = mask.find(({ glob }) => glob.match(dir, true));
    if (entry !== undefined) return { entry, via: dir };
  }
  const entry = mask.find(({ glob }) => glob.match(modulePath, false));
  return entry === undefined ? undefined : { entry, via: modulePath };
}

/** How to claim `modulePath` in file_spec: the glob to add, and why an existing entry falls short when one does. */
function coverageSuggestion(fileSpec: readonly IndexedGlob[], modulePath: string): string {
  for (const dir of ancestorsOf(modulePath).reverse()) {
    const entry = fileSpec.find(({ glob }) => glob.match(dir, true));
    if (entry !== undefined) {
      return `${JSON.stringify(`${dir}/**`)} (file_spec[${entry.index}] ${JSON.stringify(entry.glob.source)} matches the directory ${dir} only, not what is inside)`;
    }
  }
  const parent = path.posix.dirname(modulePath);
  return parent === '/' ? JSON.stringify(modulePath) : `${JSON.stringify(modulePath)} or a glob such as ${JSON.stringify(`${parent}/**`)}`;
}

function checkRootfs(analysis: ManifestAnalysis, entries: readonly RootfsEntry[], issues: IssueCollector): void {
  const { globs } = analysis;
  // Coverage problems point at file_spec (the document start when the key is missing).
  const fileSpecField = ['file_spec'];
  for (const entry of entries) {
    const file = `${ROOTFS_DIR}${entry.path}`;
    if (entry.kind === 'directory') continue;
    if (entry.kind === 'other') {
      issues.error('unsupported_file_type', [], `${file} is a ${entry.detail}; rootfs/ may hold only regular files, directories and symlinks`, { file });
      continue;
    }
    const placeholder = path.posix.basename(entry.path) === GITKEEP;
    const owner = globs.file_spec.find(({ glob }) => glob.match(entry.path, false));
    const masked = maskingEntry(globs.mask, entry.path);
    if (masked !== undefined) {
      const how = masked.via === entry.path ? '' : ` (through its directory ${masked.via})`;
      const claimed = owner === undefined ? '' : ` although file_spec[${owner.index}] claims it`;
      const message = `${file} is excluded by this mask entry${how} and will never ship${claimed}; remove the file or narrow the mask`;
      if (placeholder) issues.warning('masked_rootfs_file', ['mask', masked.entry.index], message, { file });
      else issues.error('masked_rootfs_file', ['mask', masked.entry.index], message, { file });
      // A masked file never ships, so advice about claiming it (or leaving it to ship) would be wrong.
      continue;
    }
    if (entry.mode !== undefined && (entry.mode & SET_ID_BITS) !== 0) {
      const bits = [(entry.mode & 0o4000) !== 0 ? 'setuid' : '', (entry.mode & 0o2000) !== 0 ? 'setgid' : ''].filter(Boolean).join(' and ');
      issues.warning(
        'set_id_stripped',
        [],
        `${file} has the ${bits} bit (mode ${entry.mode.toString(8).padStart(4, '0')}); the build ships rootfs/ files with normalised modes, so it is stripped: a set-id program ships only from a Debian package listed in package_spec`,
        { file },
      );
    }
    if (owner === undefined) {
      const message = placeholder
        ? `${file} is not covered by file_spec, so the directory ${path.posix.dirname(entry.path)} ships unclaimed; add ${coverageSuggestion(globs.file_spec, entry.path)} to file_spec, or leave it: it only keeps the directory in git`
        : `${file} is not covered by any file_spec glob; it still ships (rootfs/ is copied verbatim), but unclaimed, so conflict checks that read file_spec do not see it: add ${coverageSuggestion(globs.file_spec, entry.path)} to file_spec, or leave it to ship verbatim`;
      issues.warning('uncovered_rootfs_file', fileSpecField, message, { file, anchor: 'key' });
    }
  }
}

function checkUnmatchedFileSpec(analysis: ManifestAnalysis, entries: readonly RootfsEntry[], issues: IssueCollector): void {
  const packages = analysis.raw?.['package_spec'];
  if (Array.isArray(packages) && packages.length > 0) return;
  for (const { index, glob } of analysis.globs.file_spec) {
    if (!entries.some((entry) => glob.match(entry.path, entry.kind === 'directory'))) {
      issues.warning(
        'unmatched_file_spec',
        ['file_spec', index],
        `${JSON.stringify(glob.source)} matches nothing under rootfs/ and package_spec installs no packages; unless the Containerfile creates it, nothing will ship there`,
      );
    }
  }
}

/** Validates a module repository directory: manifest.yaml plus rootfs/ coverage and masking (`powernode module validate`). */
export async function validateModuleDir(dir: string): Promise<ManifestValidationResult> {
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    const issues = new IssueCollector();
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`;
    issues.error(
      'manifest_missing',
      [],
      `${path.join(dir, MANIFEST_FILE)} ${why}; a module repository has manifest.yaml at its root (powernode module init creates one)`,
      { file: MANIFEST_FILE },
    );
    return issues.result();
  }

  const analysis = analyzeManifestYaml(text);
  const { issues } = analysis;
  const rootfs = path.join(dir, ROOTFS_DIR);
  let entries: RootfsEntry[] = [];
  const stat = await lstat(rootfs).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stat !== undefined && !stat.isDirectory()) {
    issues.error('rootfs_invalid', [], `${ROOTFS_DIR} is not a directory; it holds the files copied verbatim into the module's file tree`, {
      file: ROOTFS_DIR,
    });
  } else if (stat !== undefined) {
    entries = await listRootfs(rootfs);
  }
  // The file checks need the globs; when the YAML did not parse there is nothing to check against.
  if (analysis.raw !== undefined) {
    checkRootfs(analysis, entries, issues);
    checkUnmatchedFileSpec(analysis, entries, issues);
  }
  return issues.result();
}
