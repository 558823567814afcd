import { chmod, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { describeDirectory, formatComposefsDescription } from '@powernode/artifact';
import { fsverityDigestOfBuffer } from '@powernode/fsverity';
import { compileGlob, type CompiledGlob } from '@powernode/globs';
import { DirectoryModes } from './directory-modes.js';
import { extractLayer, type LayerToExtract } from './layer-extraction.js';
import type { VerifiedModule } from './desired-module-pull.js';
import { SharedDatabaseCollector, writeServiceUnits } from './composed-root-additions.js';

/** Mount points an isolated command needs in its root; created empty when no module ships them. */
export const ROOT_SKELETON: ReadonlyArray<{ name: string; mode: number }> = [
  { name: 'dev', mode: 0o755 },
  { name: 'proc', mode: 0o555 },
  { name: 'sys', mode: 0o555 },
  { name: 'run', mode: 0o755 },
  { name: 'tmp', mode: 0o1777 },
];

/** A composed root and the hash that identifies its content. */
export interface ComposedRoot {
  /** fs-verity digest of the composefs description of the composed tree. */
  rootHash: string;
  /** That description (what the hash covers). */
  description: Buffer;
  /** Paths each module's effective mask removed. */
  masked: Record<string, string[]>;
  /** Shared databases merged from several layers (see shared-databases.ts). */
  mergedDatabases: string[];
  /** Units written for manifest services no package ships. */
  serviceUnits: string[];
}

/**
 * The order layers are laid down: ascending priority, so a higher priority overwrites a lower one on
 * overlapping paths; equal priorities in module-name order (the later name wins), so the result never
 * depends on the order the platform listed them in.
 */
export function compositionOrder<T extends { desired: { module_name: string; priority: number } }>(modules: readonly T[]): T[] {
  return [...modules].sort(
    (a, b) =>
      a.desired.priority - b.desired.priority || (a.desired.module_name < b.desired.module_name ? -1 : a.desired.module_name > b.desired.module_name ? 1 : 0),
  );
}

/** Compiles a module's effective mask; a bad glob is `validation_failed` naming the module and the pattern. */
export function compileEffectiveMask(moduleName: string, patterns: readonly string[]): CompiledGlob[] {
  return patterns.map((pattern, index) => {
    try {
      return compileGlob(pattern);
    } catch (cause) {
      throw new PowernodeError(
        'validation_failed',
        `module ${moduleName}: effective_mask[${index}] "${pattern}" is not a valid glob (${(cause as Error).message}); the platform sent a bad mask`,
        {
          cause,
          details: { module_name: moduleName, field: `effective_mask[${index}]`, pattern },
        },
      );
    }
  });
}

/** The hash of a composed tree: fs-verity digest of its composefs description (fixed mtime, so same tree ⇒ same hash). */
export async function describeComposedRoot(root: string): Promise<{ rootHash: string; description: Buffer }> {
  const description = formatComposefsDescription(await describeDirectory(root), { mtime: 0 });
  return { rootHash: fsverityDigestOfBuffer(description), description };
}

/**
 * Builds a root filesystem in `stagingDir` (which must be empty or absent) from verified module layers in
 * priority order, each without what its effective mask selects, then adds the mount-point skeleton and hashes
 * the result. Shared databases several layers ship are merged and manifest services get units before the
 * hash is taken. Every layer is verified again as it is extracted; any failure throws and leaves `stagingDir`
 * for the caller to remove.
 */
export async function composeRoot(stagingDir: string, modules: readonly VerifiedModule[]): Promise<ComposedRoot> {
  await mkdir(stagingDir, { recursive: true, mode: 0o755 });
  const chown = process.getuid?.() === 0;
  const directoryModes = new DirectoryModes();
  const masked: Record<string, string[]> = {};
  const databases = new SharedDatabaseCollector();
  for (const module of compositionOrder(modules)) {
    const layer: LayerToExtract = {
      module_name: module.desired.module_name,
      layerPath: module.treeLayerPath,
      layer: module.treeLayer,
      entries: module.entries,
      mask: compileEffectiveMask(module.desired.module_name, module.desired.effective_mask),
    };
    const result = await extractLayer(stagingDir, layer, { chown, directoryModes });
    masked[module.desired.module_name] = result.masked;
    const maskedPaths = new Set(result.masked);
    const shipped = new Set(module.entries.filter((entry) => entry.type === 'file' && !maskedPaths.has(entry.path)).map((entry) => entry.path));
    await databases.afterLayer(stagingDir, module.desired.module_name, shipped);
  }
  const mergedDatabases = await databases.writeMerged(stagingDir);
  const serviceUnits = await writeServiceUnits(
    stagingDir,
    modules.map((module) => ({ module_name: module.desired.module_name, services: module.services })),
  );
  for (const { name, mode } of ROOT_SKELETON) {
    const hostPath = path.join(stagingDir, name);
    const exists = await lstat(hostPath).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(hostPath);
      directoryModes.set(`/${name}`, mode);
    }
  }
  await directoryModes.apply(stagingDir);
  await chmod(stagingDir, 0o755);
  const { rootHash, description } = await describeComposedRoot(stagingDir);
  return { rootHash, description, masked, mergedDatabases, serviceUnits };
}
