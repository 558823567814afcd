import { PowernodeError, type ModuleManifest } from '@powernode/contracts';
import { compareModulePaths, type InstalledDebianPackage, type PackageTree, type TreeEntry } from '@powernode/artifact';
import { readAptSources } from './apt-sources.js';
import { ensureBaseTree, type BaseTree } from './base-recipe.js';
import { defaultBuildCacheDir } from './build-cache.js';
import type { BuildProgressListener } from './command-runner.js';
import { parseDistribution, resolveDebianMirror } from './debian-mirror.js';
import { packagesAddedTo, readInstalledPackages } from './dpkg-status.js';
import { ensurePackageLayer, normalisePackageList, type CapturedLayer } from './overlay-capture.js';
import { applySetIdPolicy, declaredPackageNames, type StrippedSetId } from './set-id-policy.js';
import { systemIdBlockFor } from './system-id-block.js';
import { readFullTree } from './tree-entries.js';
import { filterCapturedUpper, type FilteredLayer } from './upper-filter.js';

/** The capability a module provides to be built as the base system. */
export const BASE_OS_CAPABILITY = 'base.os';

type PackageManifest = Pick<ModuleManifest, 'name' | 'package_spec' | 'dependencies' | 'build'>;

/** Options of `materialiseModulePackages`. */
export interface MaterialiseOptions {
  manifest: PackageManifest;
  /** Default `defaultBuildCacheDir()`. */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Where apt's sources are read; default /etc/apt. */
  aptRoot?: string;
  onProgress?: BuildProgressListener;
}

/** The package tree of a module, ready for the artifact builder, and what the build had to leave out. */
export interface MaterialisedPackages {
  packageTree: PackageTree;
  warnings: string[];
  /** Files that lost their setuid/setgid bits: no package of package_spec installed them (see set-id-policy.ts). */
  strippedSetIds: StrippedSetId[];
  base: BaseTree;
}

/** True when the manifest provides `base.os`: its package tree is the whole base system. */
export function providesBaseOs(manifest: PackageManifest): boolean {
  return manifest.dependencies?.provides?.includes(BASE_OS_CAPABILITY) === true;
}

/** True when building the module installs packages: it declares some, or it is the base system. */
export function needsPackages(manifest: PackageManifest): boolean {
  return providesBaseOs(manifest) || normalisePackageList(manifest.package_spec ?? []).length > 0;
}

/** Refuses to go on without root: mmdebstrap in root mode, overlay mounts and chroot all need it. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new PowernodeError(
      'build_requires_root',
      'installing package_spec needs root (mmdebstrap, overlay mounts, chroot); run the build as root (sudo, or a privileged CI container), or pass --skip-packages for a configuration-only test build',
      { details: { uid: process.getuid?.() } },
    );
  }
}

function isBelow(candidate: string, directory: string): boolean {
  return candidate.startsWith(`${directory}/`);
}

/** The base tree with a layer applied as the overlay would show it: layer entries replace, deleted paths vanish with their contents. */
function applyLayer(baseEntries: readonly TreeEntry[], layer: FilteredLayer): TreeEntry[] {
  const merged = new Map(baseEntries.map((entry) => [entry.path, entry]));
  const gone = [...layer.deleted];
  for (const entry of layer.entries) {
    const previous = merged.get(entry.path);
    if (previous?.type === 'directory' && entry.type !== 'directory') gone.push(entry.path);
    merged.set(entry.path, entry);
  }
  const layerEntries = new Set(layer.entries);
  return [...merged.values()]
    .filter((entry) => !gone.includes(entry.path) || layerEntries.has(entry))
    .filter((entry) => layerEntries.has(entry) || !gone.some((removed) => isBelow(entry.path, removed)))
    .sort((a, b) => compareModulePaths(a.path, b.path));
}

async function baseSystemEntries(base: BaseTree, warnings: string[]): Promise<TreeEntry[]> {
  const { entries, special } = await readFullTree(base.root);
  // Device nodes under /dev come from the bootstrap; the booted system gets its own from devtmpfs.
  for (const skipped of special)
    if (!skipped.path.startsWith('/dev/')) warnings.push(`${skipped.path}: a socket, FIFO or device node, which a module cannot ship; left out`);
  return entries;
}

/**
 * Installs the module's `package_spec` for its distribution and returns the files that go into its
 * artifact: for the base system (provides `base.os`) the whole base tree plus its own packages; for any
 * other module only what installing its packages onto that base adds or changes. Results are cached
 * (base about a minute cold, a layer seconds).
 */
export async function materialiseModulePackages(options: MaterialiseOptions): Promise<MaterialisedPackages> {
  requireRoot();
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? defaultBuildCacheDir(env);
  const distribution = parseDistribution(options.manifest.build?.distribution);
  const mirror = resolveDebianMirror(distribution, await readAptSources(options.aptRoot), env);
  const warnings: string[] = [];
  const progress = options.onProgress;
  const base = await ensureBaseTree({ mirror, cacheDir, onWarning: (message) => warnings.push(message), ...(progress ? { onProgress: progress } : {}) });
  const packages = normalisePackageList(options.manifest.package_spec ?? []);
  const isBase = providesBaseOs(options.manifest);

  let layer: FilteredLayer = { entries: [], deleted: [], warnings: [] };
  let layerPackages: InstalledDebianPackage[] = base.packages;
  let captured: CapturedLayer | undefined;
  if (packages.length > 0) {
    captured = await ensurePackageLayer({
      base,
      packages,
      cacheDir,
      // The base system keeps Debian's own allocation; every other module allocates from a block of its own.
      ...(isBase ? {} : { systemIds: systemIdBlockFor(options.manifest.name) }),
      ...(progress ? { onProgress: progress } : {}),
    });
    layer = await filterCapturedUpper(captured.upper, base.root, captured.deleted);
    warnings.push(...layer.warnings);
    const status = await readInstalledPackages(captured.upper);
    if (status.length > 0) layerPackages = status;
  }
  const vendor = distribution.vendor;
  const dpkgRoots = captured === undefined ? [base.root] : [captured.upper, base.root];
  const declared = declaredPackageNames(packages);
  if (isBase) {
    // The base system is what a base.os module declares, with its own package_spec on top.
    for (const pkg of base.packages) declared.add(pkg.name);
    const { entries, stripped } = await applySetIdPolicy(applyLayer(await baseSystemEntries(base, warnings), layer), dpkgRoots, declared);
    return { base, warnings, strippedSetIds: stripped, packageTree: { entries, packages: layerPackages, vendor, suite: distribution.suite } };
  }
  for (const removed of layer.deleted) {
    warnings.push(`${removed}: installing the packages deleted this base path; a module layer cannot delete base files, so it stays on the instance`);
  }
  const { entries, stripped } = await applySetIdPolicy(layer.entries, dpkgRoots, declared);
  return {
    base,
    warnings,
    strippedSetIds: stripped,
    packageTree: { entries, packages: packagesAddedTo(base.packages, layerPackages), vendor, suite: distribution.suite },
  };
}
