import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModuleManifestSchema, PowernodeError, issuePath, type ModuleManifest } from '@powernode/contracts';
import { FsverityHasher, fsverityDigestOfBuffer } from '@powernode/fsverity';
import { isImageIndex, sha256DigestOfFile, type Descriptor, type ImageManifest, type OciClient, type OciReference } from '@powernode/oci';
import {
  COMPOSEFS_DESCRIPTION_MEDIA_TYPE,
  CYCLONEDX_SBOM_MEDIA_TYPE,
  MODULE_ANNOTATIONS,
  MODULE_ARTIFACT_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_TREE_LAYER_MEDIA_TYPE,
} from './artifact-media-types.js';
import type { ArtifactProgressListener } from './artifact-progress.js';
import {
  parseComposefsDescription,
  verifyTreeAgainstDescription,
  type ComposefsDescription,
  type ComposefsEntry,
  type DescribedEntry,
  type TreeMismatch,
} from './composefs-description.js';
import { referenceForClient } from './module-artifact-push.js';
import { layerWasVerified, recordVerifiedLayer } from './verified-layer-record.js';
import { readTar } from './tar-reader.js';

/** Options of `pullModuleArtifact`. */
export interface PullModuleArtifactOptions {
  /**
   * Keeps the tree layer at `<cacheDir>/blobs/sha256/<hex>` (re-hashed before reuse, re-pulled when it no
   * longer matches); without it the layer goes to a temporary file that is removed afterwards. A layer once
   * verified against this description is recorded there (`<cacheDir>/verified/`): a later pull checks the
   * layer's sha256 but does not parse it and re-hash every file again.
   */
  cacheDir?: string;
  /**
   * Asked before the tree layer of an artifact verified before (see `cacheDir`) is fetched or re-hashed: false
   * when the caller already holds what it would make from it (an extracted tree), so the layer is left alone
   * and may be absent from the cache.
   */
  treeLayerNeeded?: (tree: Descriptor) => Promise<boolean>;
  onProgress?: ArtifactProgressListener;
}

/** A pulled and fully verified module artifact. */
export interface PulledModuleArtifact {
  manifest: ImageManifest;
  manifestDigest: string;
  /** The module manifest (config blob). */
  config: ModuleManifest;
  /** The verified tree, as its composefs description lists it (root excluded). */
  entries: ComposefsEntry[];
  rootHash: string;
  composefsDigest: string;
  /** The composefs description bytes (what the root hash covers). */
  description: Buffer;
  /** The SBOM document. */
  sbom: unknown;
  /** The tree layer in the cache, when `cacheDir` was given. */
  treeLayerPath?: string;
}

const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_DESCRIPTION_BYTES = 512 * 1024 * 1024;
const MAX_SBOM_BYTES = 512 * 1024 * 1024;
const FSVERITY_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

function manifestInvalid(what: string, why: string, details: Record<string, unknown> = {}): PowernodeError {
  return new PowernodeError('manifest_invalid', `${what} is not a module artifact: ${why}; push an artifact built by powernode module build`, { details });
}

/** The three layers of a module artifact manifest, checked for shape; `manifest_invalid` naming what is wrong. */
export function moduleArtifactLayers(manifest: ImageManifest, what = 'the manifest'): { tree: Descriptor; composefs: Descriptor; sbom: Descriptor } {
  if (manifest.artifactType !== MODULE_ARTIFACT_TYPE) {
    throw manifestInvalid(what, `artifactType is ${JSON.stringify(manifest.artifactType)}, expected ${MODULE_ARTIFACT_TYPE}`);
  }
  if (manifest.config?.mediaType !== MODULE_CONFIG_MEDIA_TYPE) {
    throw manifestInvalid(what, `config media type is ${JSON.stringify(manifest.config?.mediaType)}, expected ${MODULE_CONFIG_MEDIA_TYPE}`);
  }
  const pick = (mediaType: string): Descriptor => {
    const matches = manifest.layers.filter((layer) => layer.mediaType === mediaType);
    if (matches.length !== 1) throw manifestInvalid(what, `it has ${matches.length} layers of type ${mediaType}, expected exactly one`);
    return matches[0]!;
  };
  const layers = { tree: pick(MODULE_TREE_LAYER_MEDIA_TYPE), composefs: pick(COMPOSEFS_DESCRIPTION_MEDIA_TYPE), sbom: pick(CYCLONEDX_SBOM_MEDIA_TYPE) };
  if (manifest.layers.length !== 3) throw manifestInvalid(what, `it has ${manifest.layers.length} layers, expected 3 (tree, composefs description, SBOM)`);
  return layers;
}

function annotation(manifest: ImageManifest, key: string, what: string): string {
  const value = manifest.annotations?.[key];
  if (typeof value !== 'string' || value === '') throw manifestInvalid(what, `annotation ${key} is missing`, { annotation: key });
  return value;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new PowernodeError('manifest_invalid', `${what} is not valid JSON: ${(cause as Error).message}; rebuild the artifact`, { cause });
  }
}

/** The `fsverity_mismatch` error for one path of the tree. */
export function fsverityMismatchError(mismatch: TreeMismatch): PowernodeError {
  return new PowernodeError(
    'fsverity_mismatch',
    `fsverity verification failed: ${mismatch.path} (${mismatch.field}: expected ${mismatch.expected}, got ${mismatch.actual}); the artifact was altered after it was built — do not use it`,
    { details: { path: mismatch.path, field: mismatch.field, expected: mismatch.expected, actual: mismatch.actual } },
  );
}

/**
 * Reads a tree layer and describes each entry as the composefs description would, computing every file's
 * fs-verity digest from the archived bytes. Entries the description cannot hold (hardlinks, devices) come
 * back as the first mismatch.
 */
export async function describeTarTree(source: AsyncIterable<Uint8Array>): Promise<{ entries: DescribedEntry[]; unsupported?: TreeMismatch }> {
  const entries: DescribedEntry[] = [];
  let unsupported: TreeMismatch | undefined;
  for await (const entry of readTar(source)) {
    const common = { path: entry.path, mode: entry.mode, uid: entry.uid, gid: entry.gid };
    switch (entry.type) {
      case 'directory':
        entries.push({ ...common, type: 'directory', size: 0 });
        break;
      case 'symlink':
        entries.push({ ...common, type: 'symlink', size: Buffer.byteLength(entry.linkTarget ?? '', 'utf8'), linkTarget: entry.linkTarget ?? '' });
        break;
      case 'file': {
        const hasher = new FsverityHasher();
        for await (const chunk of entry.body) hasher.update(chunk);
        entries.push({ ...common, type: 'file', size: entry.size, digest: hasher.digest() });
        break;
      }
      case 'hardlink':
      case 'other':
        unsupported ??= {
          path: entry.path,
          field: 'type',
          expected: 'a directory, regular file or symlink',
          actual: `tar type flag ${JSON.stringify(entry.typeflag)}`,
        };
        break;
      default: {
        const unreachable: never = entry.type;
        throw unreachable;
      }
    }
  }
  return unsupported === undefined ? { entries } : { entries, unsupported };
}

/** Verifies a tree layer file against a description: undefined when every entry matches, else the first mismatch. */
export async function verifyTreeLayer(layerPath: string, description: ComposefsDescription): Promise<TreeMismatch | undefined> {
  const { entries, unsupported } = await describeTarTree(createReadStream(layerPath, { highWaterMark: 1024 * 1024 }));
  return unsupported ?? verifyTreeAgainstDescription(entries, description);
}

async function cachedLayerIsIntact(file: string, descriptor: Descriptor): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) return false;
  if (info.size === descriptor.size && (await sha256DigestOfFile(file)).digest === descriptor.digest) return true;
  await unlink(file).catch(() => undefined);
  return false;
}

/**
 * Pulls a module artifact and verifies the whole chain before returning anything: the manifest against its
 * digest, every blob against its descriptor, the composefs description against the root-hash annotation
 * (fs-verity), and every entry of the tree layer against the description (fs-verity of each file). Throws
 * `digest_mismatch`, `fsverity_mismatch` (`fsverity verification failed: <path>`) or `manifest_invalid`.
 */
export async function pullModuleArtifact(
  client: OciClient,
  reference: string | OciReference,
  options: PullModuleArtifactOptions = {},
): Promise<PulledModuleArtifact> {
  const target = referenceForClient(client, reference);
  const manifestReference = target.digest ?? target.tag;
  if (manifestReference === undefined) {
    throw new PowernodeError(
      'validation_failed',
      `reference ${target.registry}/${target.repository} names neither a tag nor a digest; add :<tag> or @sha256:<hex>`,
      {
        details: { field: 'reference' },
      },
    );
  }
  const what = `${target.registry}/${target.repository}${target.digest === undefined ? ':' : '@'}${manifestReference}`;
  const pulled = await client.getManifest(target.repository, manifestReference);
  if (isImageIndex(pulled.manifest)) throw manifestInvalid(what, 'it is an image index; pull one of its per-architecture manifests');
  const manifest = pulled.manifest;
  options.onProgress?.('manifest_pulled', { digest: pulled.digest });

  const layers = moduleArtifactLayers(manifest, what);
  const rootHash = annotation(manifest, MODULE_ANNOTATIONS.fsverityRootHash, what);
  const composefsDigest = annotation(manifest, MODULE_ANNOTATIONS.composefsDigest, what);
  const moduleName = annotation(manifest, MODULE_ANNOTATIONS.name, what);
  if (!FSVERITY_DIGEST_PATTERN.test(rootHash)) throw manifestInvalid(what, `root hash "${rootHash}" is not sha256:<64 hex>`);
  if (composefsDigest !== layers.composefs.digest) {
    throw manifestInvalid(what, `annotation ${MODULE_ANNOTATIONS.composefsDigest} is ${composefsDigest} but the composefs layer is ${layers.composefs.digest}`);
  }

  const configBytes = await client.getBlob(target.repository, manifest.config, { maxBytes: MAX_CONFIG_BYTES });
  options.onProgress?.('blob_pulled', { role: 'config', digest: manifest.config.digest, size: configBytes.length, cached: false });
  const parsedConfig = ModuleManifestSchema.safeParse(parseJson(configBytes, `the config of ${what}`));
  if (!parsedConfig.success) {
    const issues = parsedConfig.error.issues.map((issue) => `${issuePath(issue.path)}: ${issue.message}`);
    throw manifestInvalid(what, `its config is not a valid module manifest (${issues.join('; ')})`, { issues });
  }
  const config = parsedConfig.data;
  if (config.name !== moduleName) throw manifestInvalid(what, `annotation ${MODULE_ANNOTATIONS.name} is ${moduleName} but the config names ${config.name}`);

  const description = await client.getBlob(target.repository, layers.composefs, { maxBytes: MAX_DESCRIPTION_BYTES });
  options.onProgress?.('blob_pulled', { role: 'composefs', digest: layers.composefs.digest, size: description.length, cached: false });
  const descriptionDigest = fsverityDigestOfBuffer(description);
  if (descriptionDigest !== rootHash) {
    throw new PowernodeError(
      'fsverity_mismatch',
      `fsverity verification failed: composefs description (fs-verity digest ${descriptionDigest}, the root hash annotation says ${rootHash}); do not use this artifact`,
      { details: { path: 'composefs description', expected: rootHash, actual: descriptionDigest } },
    );
  }
  const parsedDescription = parseComposefsDescription(description);

  const sbomBytes = await client.getBlob(target.repository, layers.sbom, { maxBytes: MAX_SBOM_BYTES });
  options.onProgress?.('blob_pulled', { role: 'sbom', digest: layers.sbom.digest, size: sbomBytes.length, cached: false });
  const sbom = parseJson(sbomBytes, `the SBOM of ${what}`);

  const temporaryDir = options.cacheDir === undefined ? await mkdtemp(path.join(tmpdir(), 'powernode-module-pull-')) : undefined;
  try {
    const blobDir = path.join(options.cacheDir ?? temporaryDir!, 'blobs', 'sha256');
    await mkdir(blobDir, { recursive: true });
    const layerPath = path.join(blobDir, layers.tree.digest.slice('sha256:'.length));
    const verifiedBefore = options.cacheDir !== undefined && (await layerWasVerified(options.cacheDir, layers.tree.digest, rootHash));
    const needed = !verifiedBefore || options.treeLayerNeeded === undefined || (await options.treeLayerNeeded(layers.tree));
    if (needed) {
      const cached = options.cacheDir !== undefined && (await cachedLayerIsIntact(layerPath, layers.tree));
      // The layer is verified against its digest before a single byte of it is parsed.
      if (!cached) await client.downloadBlob(target.repository, layers.tree, layerPath);
      options.onProgress?.('blob_pulled', { role: 'tree', digest: layers.tree.digest, size: layers.tree.size, cached });
    }

    if (!verifiedBefore) {
      const mismatch = await verifyTreeLayer(layerPath, parsedDescription);
      if (mismatch !== undefined) throw fsverityMismatchError(mismatch);
      if (options.cacheDir !== undefined) await recordVerifiedLayer(options.cacheDir, layers.tree.digest, rootHash);
    }
    const entries = parsedDescription.entries.filter((entry) => entry.path !== '/');
    options.onProgress?.('tree_verified', { entries: entries.length, root_hash: rootHash, recorded: verifiedBefore });
    return {
      manifest,
      manifestDigest: pulled.digest,
      config,
      entries,
      rootHash,
      composefsDigest,
      description,
      sbom,
      ...(options.cacheDir === undefined ? {} : { treeLayerPath: layerPath }),
    };
  } finally {
    if (temporaryDir !== undefined) await rm(temporaryDir, { recursive: true, force: true });
  }
}
