import { isPowernodeError } from '@powernode/contracts';
import { desiredModulesFor } from './desired-modules.js';
import type { DesiredStateModel } from './desired-state.projection.js';
import type { InstanceView } from './instances.projection.js';

/**
 * The digests the shared artifact cache must keep: for every instance that is not terminated, the OCI
 * manifest and composefs digests of each module it should run, and of each module it reports running (a
 * running composefs digest is mapped back to the manifest digests of the versions that carry it, so an agent
 * that has not yet moved to a new version keeps its current one).
 */
export function artifactCacheRoots(desired: DesiredStateModel, instances: readonly InstanceView[]): Set<string> {
  const roots = new Set<string>();
  const manifestsByComposefs = new Map<string, string[]>();
  for (const versions of Object.values(desired.versions)) {
    for (const version of Object.values(versions)) {
      const list = manifestsByComposefs.get(version.composefs_digest) ?? [];
      list.push(version.oci_digest);
      manifestsByComposefs.set(version.composefs_digest, list);
    }
  }
  for (const instance of instances) {
    if (instance.status === 'terminated') continue;
    try {
      for (const module of Object.values(desiredModulesFor(desired, { instance_id: instance.id }).modules)) {
        roots.add(module.oci_digest);
        roots.add(module.composefs_digest);
      }
    } catch (error) {
      // An instance whose node is unknown desires nothing; anything else is a bug worth seeing.
      if (!(isPowernodeError(error) && error.code === 'not_found')) throw error;
    }
    for (const composefs of Object.values(instance.running_module_digests)) {
      roots.add(composefs);
      for (const manifest of manifestsByComposefs.get(composefs) ?? []) roots.add(manifest);
    }
  }
  return roots;
}
