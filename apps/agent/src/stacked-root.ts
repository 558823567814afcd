import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  describeDirectory,
  EXTRACTED_TREE_ENTRIES,
  EXTRACTED_TREE_SOURCE,
  extractedTreeDir,
  formatComposefsDescription,
  stackDescriptions,
  touchExtractedTree,
  type DescribedEntry,
  type ExtractedTreeSource,
} from '@powernode/artifact';
import { PowernodeError, type AgentDesiredModule } from '@powernode/contracts';
import type { Descriptor } from '@powernode/oci';
import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import { writeAgentUnit } from './in-machine-agent.js';
import type { VerifiedModule } from './desired-module-pull.js';
import { COLLECTED_PATHS, SharedDatabaseCollector, writeServiceUnits } from './composed-root-additions.js';
import { hostPathOf, pathExists, runHostCommand, unmount } from './host-commands.js';
import { DirectoryModes } from './directory-modes.js';
import { extractLayer } from './layer-extraction.js';
import { chmodDirectoryInRoot } from './root-confinement.js';
import { compileEffectiveMask, compositionOrder, describeComposedRoot, ROOT_SKELETON, type ComposedRoot } from './root-composition.js';

/*
 * The root of a machine instance, stacked instead of copied. Each verified layer is extracted once per host
 * (per tree layer digest and effective mask) into the shared cache, `<cache>/trees/<key>/root`, and every
 * instance's overlay stacks those read-only directories: one copy of the 200 MB base serves every machine.
 * A generation's own directory holds only `top/` (the merged shared databases, units for manifest services,
 * the rebuilt ld.so.cache, the mount-point skeleton) and `layers.json` (the stack, highest first).
 *
 * A tree is extracted with the same verification as a copied root (every entry against the signed
 * description, every file's fs-verity digest); it is renamed into place only when complete, so a tree that
 * exists was verified once. The generation's root hash is taken over the stacked view, as for a copied root.
 */

/** The file listing a stacked generation's lower layers. */
export const STACK_FILE = 'layers.json';

/** What `layers.json` holds. */
export interface StackFile {
  /** The module trees in the shared cache, highest priority first (the generation's own `top/` goes above them). */
  trees: string[];
  /** The module each tree is of, in the same order (what an integrity report names); absent in older stacks. */
  modules?: string[];
}

/** The overlay lower directories of a stacked generation, highest first: its `top/`, then the module trees. */
export function stackLowers(rootDir: string, stack: StackFile): string[] {
  return [path.join(rootDir, 'top'), ...stack.trees];
}

/** Where a module's extracted tree lives in the shared cache (keyed by its layer digest and its mask). */
export function layerTreeDir(cacheDir: string, module: VerifiedModule): string {
  return extractedTreeDir(cacheDir, sourceOf(module.desired, module.treeLayer));
}

function sourceOf(desired: AgentDesiredModule, treeLayer: Descriptor): ExtractedTreeSource {
  return { layer: treeLayer.digest, mask: [...desired.effective_mask].sort() };
}

/**
 * Whether a machine still needs a module's tree layer file: not when the tree extracted from it with this
 * mask is in the cache (a composition stacks the tree and never reads the layer).
 */
export async function treeLayerNeeded(cacheDir: string, desired: AgentDesiredModule, tree: Descriptor): Promise<boolean> {
  return !(await pathExists(path.join(extractedTreeDir(cacheDir, sourceOf(desired, tree)), 'root')));
}

/** The module's verified tree in the shared cache, extracted (and verified) when it is not there yet. */
export async function ensureLayerTree(cacheDir: string, module: VerifiedModule): Promise<string> {
  const finalDir = layerTreeDir(cacheDir, module);
  const root = path.join(finalDir, 'root');
  if (await pathExists(root)) {
    await touchExtractedTree(finalDir);
    return root;
  }
  await mkdir(path.join(cacheDir, 'trees'), { recursive: true, mode: 0o755 });
  const staging = `${finalDir}.staging-${randomBytes(4).toString('hex')}`;
  try {
    const stagingRoot = path.join(staging, 'root');
    await mkdir(stagingRoot, { recursive: true, mode: 0o755 });
    const directoryModes = new DirectoryModes();
    const mask = compileEffectiveMask(module.desired.module_name, module.desired.effective_mask);
    const extraction = await extractLayer(
      stagingRoot,
      { module_name: module.desired.module_name, layerPath: module.treeLayerPath, layer: module.treeLayer, entries: module.entries, mask },
      { chown: process.getuid?.() === 0, directoryModes },
    );
    await directoryModes.apply(stagingRoot);
    await chmod(stagingRoot, 0o755);
    const maskedPaths = new Set(extraction.masked);
    const described: DescribedEntry[] = module.entries
      .filter((entry) => !maskedPaths.has(entry.path))
      .map(({ path: entryPath, type, mode, uid, gid, size, linkTarget, digest }) => ({
        path: entryPath,
        type,
        mode,
        uid,
        gid,
        size,
        ...(linkTarget === undefined ? {} : { linkTarget }),
        ...(digest === undefined ? {} : { digest }),
      }));
    await writeFile(path.join(staging, EXTRACTED_TREE_ENTRIES), JSON.stringify(described));
    await writeFile(path.join(staging, EXTRACTED_TREE_SOURCE), JSON.stringify(sourceOf(module.desired, module.treeLayer)));
    try {
      await rename(staging, finalDir);
    } catch (error) {
      // Another agent of this host extracted the same tree meanwhile: use that one.
      if (!(await pathExists(root))) throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return root;
}

/** An empty directory in the cache: the only lower layer of a generation with no module. */
async function emptyTree(cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, 'trees', 'empty');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** The lower directories of a stacked generation, or null for a copied root (no `layers.json`). */
export async function readStack(rootDir: string): Promise<StackFile | null> {
  try {
    return JSON.parse(await readFile(path.join(rootDir, STACK_FILE), 'utf8')) as StackFile;
  } catch {
    return null;
  }
}

async function mountStack(lowers: readonly string[], mountPoint: string, upper?: { dir: string; work: string }): Promise<void> {
  const options = [`lowerdir=${lowers.join(':')}`, ...(upper === undefined ? [] : [`upperdir=${upper.dir}`, `workdir=${upper.work}`])].join(',');
  const mounted = await runHostCommand(['mount', '-t', 'overlay', 'overlay', '-o', upper === undefined ? `ro,${options}` : options, mountPoint], 60_000);
  if (mounted.code !== 0) {
    throw new PowernodeError(
      'compose_failed',
      `cannot mount the layer stack (${lowers.length} layers): ${mounted.stderr.trim()}; the agent needs root and overlayfs`,
      {
        details: { rule: 'stack_mount' },
      },
    );
  }
}

/**
 * Composes a stacked generation in `stagingDir`: the modules' trees from the shared cache (extracted and
 * verified on first use), then — through a temporary overlay whose upper is `<staging>/top` — the merged
 * shared databases, the service units, a rebuilt ld.so.cache and the mount-point skeleton, and finally the
 * hash of the stacked view. Leaves `top/` and `layers.json`; throws on any failure (the caller removes the
 * staging directory).
 */
export async function composeStackedRoot(stagingDir: string, modules: readonly VerifiedModule[], cacheDir: string): Promise<ComposedRoot> {
  const ordered = compositionOrder(modules);
  const trees: string[] = [];
  for (const module of ordered) trees.push(await ensureLayerTree(cacheDir, module));
  const top = path.join(stagingDir, 'top');
  const work = path.join(stagingDir, '.work');
  const view = path.join(stagingDir, '.view');
  for (const dir of [top, work, view]) await mkdir(dir, { recursive: true, mode: 0o755 });
  // Highest priority first, as overlayfs reads lowerdir; an overlay needs one lower, so no module stacks an empty one.
  const lowers = trees.length > 0 ? [...trees].reverse() : [await emptyTree(cacheDir)];
  await mountStack(lowers, view, { dir: top, work });
  let composed: ComposedRoot;
  try {
    const databases = new SharedDatabaseCollector();
    for (const [index, module] of ordered.entries()) {
      // What the collector reads, and only that: a file of the layer that its mask left in the extracted tree.
      const files = new Set(module.entries.filter((entry) => entry.type === 'file').map((entry) => entry.path));
      const shipped = new Set<string>();
      for (const modulePath of COLLECTED_PATHS) if (files.has(modulePath) && (await pathExists(hostPathOf(trees[index]!, modulePath)))) shipped.add(modulePath);
      await databases.afterLayer(trees[index]!, module.desired.module_name, shipped);
    }
    const mergedDatabases = await databases.writeMerged(view);
    const serviceUnits = await writeServiceUnits(
      view,
      modules.map((module) => ({ module_name: module.desired.module_name, services: module.services })),
    );
    // Every machine runs its agent; the unit is part of the root and of its hash.
    await writeAgentUnit(view);
    for (const { name, mode } of ROOT_SKELETON) {
      if (!(await pathExists(path.join(view, name)))) {
        await mkdir(path.join(view, name));
        await chmodDirectoryInRoot(view, `/${name}`, mode);
      }
    }
    const { rootHash, description } = await describeStackedView(view, top, lowers);
    composed = { rootHash, description, masked: {}, mergedDatabases, serviceUnits };
  } finally {
    await unmount(view);
    await rm(work, { recursive: true, force: true });
    await rm(view, { recursive: true, force: true });
  }
  const modulesOfLowers = trees.length > 0 ? ordered.map((module) => module.desired.module_name).reverse() : [];
  await writeFile(path.join(stagingDir, STACK_FILE), `${JSON.stringify({ trees: lowers, modules: modulesOfLowers } satisfies StackFile, null, 2)}\n`);
  return composed;
}

/** The hash of a stacked generation as it was composed (read through a read-only overlay of its stack). */
export async function describeStackedRoot(rootDir: string, stack: StackFile): Promise<{ rootHash: string; description: Buffer }> {
  const view = path.join(rootDir, '.view');
  await mkdir(view, { recursive: true });
  await mountStack(stackLowers(rootDir, stack), view);
  try {
    return await describeStackedView(view, path.join(rootDir, 'top'), stack.trees);
  } finally {
    await unmount(view);
    await rm(view, { recursive: true, force: true });
  }
}

/**
 * The description of a mounted stack, as `describeComposedRoot` would give it, without reading the trees:
 * each tree recorded the entries it was verified against when it was extracted, so the stack's description
 * is computed from those (`stackDescriptions`) and from `top/`, which alone is read and hashed. When a tree has
 * no record (one extracted before records were kept) or `top/` holds what the computation does not model (an
 * overlay whiteout), every file of the mounted view is read instead.
 */
export async function describeStackedView(view: string, top: string, trees: readonly string[]): Promise<{ rootHash: string; description: Buffer }> {
  const layers: DescribedEntry[][] = [];
  for (const tree of [...trees].reverse()) {
    const recorded = await readFile(path.join(path.dirname(tree), EXTRACTED_TREE_ENTRIES), 'utf8').then(
      (text) => JSON.parse(text) as DescribedEntry[],
      () => null,
    );
    if (recorded === null) return describeComposedRoot(view);
    layers.push(recorded);
  }
  let topEntries: DescribedEntry[];
  try {
    topEntries = await describeDirectory(top);
  } catch {
    return describeComposedRoot(view);
  }
  const description = formatComposefsDescription(stackDescriptions([...layers, topEntries]), { mtime: 0 });
  return { rootHash: fsverityDigestOfBuffer(description), description };
}
