import { PowernodeError, type AgentDesiredModule, type ModuleService } from '@powernode/contracts';
import { moduleArtifactLayers, pullModuleArtifact, type ArtifactProgressListener, type ComposefsEntry, type PulledModuleArtifact } from '@powernode/artifact';
import { isImageIndex, parseReference, type Descriptor, type OciClient, type OciReference } from '@powernode/oci';
import { cachedBlobPath, isVanishedCacheEntry, readCachedBlob, storeCachedBlob } from './artifact-cache.js';
import type { RegistryClients } from './registry-clients.js';

/** Manifests are small (the OCI client refuses larger ones); a cache entry beyond this is not one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Pull attempts while cache entries keep disappearing under the pull (the cache's garbage collection, another agent). */
const PULL_ATTEMPTS = 3;

/** A desired module whose artifact was pulled into the cache and verified end to end. */
export interface VerifiedModule {
  desired: AgentDesiredModule;
  manifestDigest: string;
  composefsDigest: string;
  rootHash: string;
  /** The tree layer's descriptor (digest and size the cached file must still match when it is extracted). */
  treeLayer: Descriptor;
  /** The cached tree layer, `<cache>/blobs/sha256/<hex>`. */
  treeLayerPath: string;
  /** The tree as the verified composefs description lists it (root excluded). */
  entries: ComposefsEntry[];
  /** The manifest's services (from the verified config blob): composing writes units for them. */
  services: ModuleService[];
}

/**
 * Keeps the manifest `reference.digest` in the cache: the cached entry when it still hashes to the digest,
 * else pulled by digest (the client checks the bytes hash to it), checked to be a module artifact manifest,
 * and stored. Returns the entry's path and whether it was already there.
 */
export async function cacheModuleManifest(
  client: OciClient,
  reference: OciReference & { digest: string },
  cacheDir: string,
): Promise<{ path: string; cached: boolean }> {
  if ((await readCachedBlob(cacheDir, reference.digest, MAX_MANIFEST_BYTES)) !== undefined)
    return { path: cachedBlobPath(cacheDir, reference.digest), cached: true };
  const pulled = await client.getManifest(reference.repository, reference.digest);
  const what = `${reference.registry}/${reference.repository}@${reference.digest}`;
  if (isImageIndex(pulled.manifest)) {
    throw new PowernodeError('manifest_invalid', `${what} is not a module artifact: it is an image index; push an artifact built by powernode module build`, {
      details: { digest: reference.digest },
    });
  }
  moduleArtifactLayers(pulled.manifest, what);
  return { path: await storeCachedBlob(cacheDir, reference.digest, pulled.bytes), cached: false };
}

/**
 * Pulls one desired module by its manifest digest (never by tag: a registry serving something else under the
 * tag is not even asked) into the shared cache, with every verification of `pullModuleArtifact`, then checks
 * the artifact is the version the platform meant: its composefs digest equals the desired `composefs_digest`
 * and its module name the desired `module_name`. The manifest is cached before the tree layer (the cache's GC
 * learns from it which blobs the artifact owns); an entry that disappears during the pull is pulled again.
 * Throws `digest_mismatch`, `fsverity_mismatch`, `manifest_invalid` or `registry_unreachable`.
 */
export async function pullDesiredModule(
  clients: RegistryClients,
  desired: AgentDesiredModule,
  cacheDir: string,
  onProgress?: ArtifactProgressListener,
  treeLayerNeeded?: (desired: AgentDesiredModule, tree: Descriptor) => Promise<boolean>,
): Promise<VerifiedModule> {
  const reference = parseReference(desired.oci_ref, {});
  if (reference.digest !== undefined && reference.digest !== desired.oci_digest) {
    throw new PowernodeError(
      'digest_mismatch',
      `module ${desired.module_name}: oci_ref pins ${reference.digest} but oci_digest is ${desired.oci_digest}; the desired state contradicts itself`,
      {
        details: { module_name: desired.module_name, oci_ref: desired.oci_ref, oci_digest: desired.oci_digest },
      },
    );
  }
  const client = clients.clientFor(reference.registry);
  const pinned = { registry: reference.registry, repository: reference.repository, digest: desired.oci_digest };
  let pulled: PulledModuleArtifact;
  for (let attempt = 1; ; attempt++) {
    try {
      await cacheModuleManifest(client, pinned, cacheDir);
      pulled = await pullModuleArtifact(client, pinned, {
        cacheDir,
        ...(onProgress === undefined ? {} : { onProgress }),
        ...(treeLayerNeeded === undefined ? {} : { treeLayerNeeded: (tree: Descriptor) => treeLayerNeeded(desired, tree) }),
      });
      break;
    } catch (error) {
      if (attempt >= PULL_ATTEMPTS || !isVanishedCacheEntry(error, cacheDir)) throw error;
    }
  }
  if (pulled.manifestDigest !== desired.oci_digest) {
    throw new PowernodeError(
      'digest_mismatch',
      `module ${desired.module_name}: the registry served manifest ${pulled.manifestDigest} for ${desired.oci_digest}; do not use it`,
      {
        details: { module_name: desired.module_name, expected: desired.oci_digest, actual: pulled.manifestDigest },
      },
    );
  }
  if (pulled.composefsDigest !== desired.composefs_digest) {
    throw new PowernodeError(
      'digest_mismatch',
      `module ${desired.module_name}: artifact ${desired.oci_ref} has composefs digest ${pulled.composefsDigest} but the platform verified ${desired.composefs_digest}; it is not the version that was promoted, so it is not started`,
      { details: { module_name: desired.module_name, expected: desired.composefs_digest, actual: pulled.composefsDigest } },
    );
  }
  if (pulled.config.name !== desired.module_name) {
    throw new PowernodeError(
      'manifest_invalid',
      `module ${desired.module_name}: artifact ${desired.oci_ref} is module ${pulled.config.name}; the desired state points at the wrong artifact`,
      {
        details: { module_name: desired.module_name, artifact_module: pulled.config.name },
      },
    );
  }
  if (pulled.treeLayerPath === undefined) throw new PowernodeError('internal', `module ${desired.module_name}: the pull kept no tree layer in the cache`);
  return {
    desired,
    manifestDigest: pulled.manifestDigest,
    composefsDigest: pulled.composefsDigest,
    rootHash: pulled.rootHash,
    treeLayer: moduleArtifactLayers(pulled.manifest).tree,
    treeLayerPath: pulled.treeLayerPath,
    entries: pulled.entries,
    services: pulled.config.services ?? [],
  };
}
