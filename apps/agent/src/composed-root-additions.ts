import { PowernodeError, type ModuleService } from '@powernode/contracts';
import { hostPathOf, pathExists, runHostCommand } from './host-commands.js';
import { makeDirectoriesInRoot, readFileInRoot, symlinkInRoot, writeFileInRoot } from './root-confinement.js';
import { mergeSharedDatabase, SHARED_DATABASES, type DatabaseCopy } from './shared-databases.js';
import { PACKAGED_UNIT_DIRECTORIES, serviceUnitText, unitNameOf } from './service-units.js';

/*
 * What composing adds on top of the extracted layers: the merged shared databases (and a fresh ld.so.cache
 * when several layers brought libraries) and a unit for each manifest service no package ships. Both happen
 * before the root is hashed, so the composed root hash covers them. Every read and write is confined to the
 * root: a layer's symlink on the way (`/etc -> /etc`) is refused, never followed.
 */

const LD_SO_CACHE = '/etc/ld.so.cache';

/** The only paths the collector reads from a layer: callers need to say which of these a layer shipped, nothing more. */
export const COLLECTED_PATHS: readonly string[] = [...SHARED_DATABASES.keys(), LD_SO_CACHE];

/** Collects, layer by layer, each module's copy of the shared databases as it was just extracted. */
export class SharedDatabaseCollector {
  private readonly copies = new Map<string, DatabaseCopy[]>();
  private ldCacheLayers = 0;

  /** Reads the shared databases this layer shipped (and did not mask) from the root, right after its extraction. */
  async afterLayer(root: string, moduleName: string, shippedPaths: ReadonlySet<string>): Promise<void> {
    for (const modulePath of SHARED_DATABASES.keys()) {
      if (!shippedPaths.has(modulePath)) continue;
      // A layer's own symlink on the way (its /etc pointing at the host's) is refused, never read through.
      const content = await readFileInRoot(root, modulePath).catch((error: unknown) => {
        if (error instanceof PowernodeError) throw error;
        return undefined;
      });
      if (content === undefined) continue;
      const list = this.copies.get(modulePath) ?? [];
      list.push({ module_name: moduleName, content });
      this.copies.set(modulePath, list);
    }
    if (shippedPaths.has(LD_SO_CACHE)) this.ldCacheLayers += 1;
  }

  /** Writes the union of every database more than one layer shipped, then rebuilds ld.so.cache when needed. */
  async writeMerged(root: string): Promise<string[]> {
    const merged: string[] = [];
    for (const [modulePath, copies] of this.copies) {
      if (copies.length < 2) continue;
      // The file keeps the mode and owner of the copy on disk (the top layer's): only its entries change.
      await writeFileInRoot(root, modulePath, mergeSharedDatabase(modulePath, copies));
      merged.push(modulePath);
    }
    if (this.ldCacheLayers > 1) await rebuildLdCache(root);
    return merged;
  }
}

/** `ldconfig -r <root>`: the library cache of the composed root, from every layer's libraries. */
async function rebuildLdCache(root: string): Promise<void> {
  const outcome = await runHostCommand(['ldconfig', '-r', root], 120_000);
  if (outcome.code !== 0) {
    throw new PowernodeError(
      'compose_failed',
      `cannot rebuild ${LD_SO_CACHE} of the composed root with ldconfig -r (${outcome.stderr.trim() || `exit ${outcome.code}`}); install libc-bin on the host`,
      {
        details: { rule: 'ld_so_cache' },
      },
    );
  }
}

/** A module's manifest services, as composing needs them. */
export interface ModuleServices {
  module_name: string;
  services: readonly ModuleService[];
}

/**
 * Writes `/etc/systemd/system/<name>.service` (enabled for multi-user.target) for each manifest service with
 * a start_command whose unit no package ships. Returns the units written.
 */
export async function writeServiceUnits(root: string, modules: readonly ModuleServices[]): Promise<string[]> {
  const written: string[] = [];
  for (const module of modules) {
    for (const service of module.services) {
      if (service.start_command === undefined || service.start_command.trim() === '') continue;
      const unit = unitNameOf(service.name);
      const packaged = await Promise.all(PACKAGED_UNIT_DIRECTORIES.map((dir) => pathExists(hostPathOf(root, `${dir}/${unit}`))));
      if (packaged.some(Boolean)) continue;
      await makeDirectoriesInRoot(root, '/etc/systemd/system/multi-user.target.wants');
      await writeFileInRoot(root, `/etc/systemd/system/${unit}`, serviceUnitText(module.module_name, service), 0o644);
      const wants = `/etc/systemd/system/multi-user.target.wants/${unit}`;
      if (!(await pathExists(hostPathOf(root, wants)))) await symlinkInRoot(root, wants, `/etc/systemd/system/${unit}`);
      written.push(unit);
    }
  }
  return written;
}
