import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PowernodeError, type ModuleManifest } from '@powernode/contracts';
import { FsverityHasher, fsverityDigestOfBuffer } from '@powernode/fsverity';
import { OCI_MANIFEST_MEDIA_TYPE, canonicalJsonBytes, sha256Digest, type Descriptor, type ImageManifest } from '@powernode/oci';
import {
  COMPOSEFS_DESCRIPTION_MEDIA_TYPE,
  CYCLONEDX_SBOM_MEDIA_TYPE,
  MODULE_ANNOTATIONS,
  MODULE_ARTIFACT_TYPE,
  MODULE_CONFIG_MEDIA_TYPE,
  MODULE_LAYER_TITLES,
  MODULE_TREE_LAYER_MEDIA_TYPE,
  type ModuleBlobRole,
} from './artifact-media-types.js';
import type { ArtifactProgressListener } from './artifact-progress.js';
import { formatComposefsDescription, type DescribedEntry } from './composefs-description.js';
import { buildModuleSbom, type InstalledDebianPackage } from './cyclonedx-sbom.js';
import { loadModuleManifest } from './module-manifest-source.js';
import { compileMask, readModuleTree, type TreeEntry } from './module-tree.js';
import { applyMask, mergePackageAndRootfsTrees } from './package-tree-merge.js';
import { writeLayoutFiles, blobPathIn } from './oci-layout.js';
import { reproducibleTar } from './tar-writer.js';

/** Version of the builder recorded in the SBOM's metadata.tools. */
export const MODULE_BUILDER_VERSION = '0.1.0';

// The largest mtime a ustar header holds (11 octal digits), year 2242.
const MAX_SOURCE_DATE_EPOCH = 0o77777777777;
const WRITE_BATCH_BYTES = 1024 * 1024;
// The grammar of semver.org 2.0.0 (no leading zeros, optional pre-release and build metadata).
const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/**
 * The files the module's installed packages add or change, with their real owners and modes (a captured
 * package layer, or the whole base system for the base module), and the packages dpkg lists for them.
 */
export interface PackageTree {
  /** Sorted entries with every parent directory; file `sourcePath`s point into the captured tree. */
  entries: readonly TreeEntry[];
  /** The packages this tree installs (the SBOM lists them instead of the declared `package_spec`). */
  packages: readonly InstalledDebianPackage[];
  /** purl namespace and `distro` qualifier of those packages, e.g. `debian` and `bookworm`. */
  vendor: string;
  suite: string;
}

/** Inputs of a module build. Everything that reaches the artifact is here: no clock, no environment but SOURCE_DATE_EPOCH. */
export interface BuildModuleArtifactOptions {
  /** The module directory (manifest.yaml, rootfs/). */
  dir: string;
  /** The module version (semver; a leading `v` as in git tags is dropped). Without it no version annotation is written. */
  version?: string;
  /** `org.opencontainers.image.source`, e.g. the repository URL. */
  source?: string;
  /** `org.opencontainers.image.revision`, e.g. the git commit. */
  revision?: string;
  /** mtime of every entry and the SBOM timestamp; default `$SOURCE_DATE_EPOCH`, else 0. */
  sourceDateEpoch?: number;
  /** Directory that receives the OCI image layout (created if missing); default a new temporary directory. */
  outDir?: string;
  /** purl namespace of the declared packages (default `ubuntu`, the distribution module builds install from). */
  packageNamespace?: string;
  /** Installed package files merged under rootfs/ (rootfs/ wins on the same path), then `mask` applies to both. */
  packageTree?: PackageTree;
  onProgress?: ArtifactProgressListener;
}

/** One blob of a built artifact. Every blob is a file of the layout; small ones are also kept in memory. */
export interface ArtifactBlob {
  role: ModuleBlobRole;
  mediaType: string;
  size: number;
  path: string;
  bytes?: Buffer;
}

/** An entry of the built tree as the composefs description records it, plus the SHA-256 of a file's content. */
export interface ArtifactEntry extends DescribedEntry {
  sha256?: string;
}

/** A built module artifact, written as an OCI image layout. */
export interface BuiltModuleArtifact {
  /** The image manifest document and its exact bytes (what `manifestDigest` covers). */
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: string;
  /** The module manifest the config blob holds. */
  moduleManifest: ModuleManifest;
  /** The version written in the annotations, when one was given. */
  version: string | undefined;
  /** Config and layer blobs by digest. */
  blobs: Map<string, ArtifactBlob>;
  /** fs-verity digest of the composefs description (`io.powernode.fsverity_root_hash`). */
  rootHash: string;
  /** sha256 of the composefs description blob (`io.powernode.composefs_digest`). */
  composefsDigest: string;
  /** The tree, sorted, root excluded. */
  entries: ArtifactEntry[];
  /** The OCI image layout directory holding every blob, `index.json` and `oci-layout`. */
  layoutDir: string;
  /** Removes the layout directory when the build created a temporary one; does nothing for `outDir`. */
  dispose(): Promise<void>;
}

/** SOURCE_DATE_EPOCH as a build input: the option, else the environment variable, else 0; refused when not a whole number of seconds. */
export function resolveSourceDateEpoch(option: number | undefined, environment: string | undefined = process.env['SOURCE_DATE_EPOCH']): number {
  const refuse = (field: string, value: unknown): never => {
    throw new PowernodeError(
      'validation_failed',
      `${field} "${String(value)}" is not a whole number of seconds between 0 and ${MAX_SOURCE_DATE_EPOCH}; set it to e.g. $(git log -1 --format=%ct)`,
      { details: { field, value } },
    );
  };
  if (option !== undefined) {
    if (!Number.isSafeInteger(option) || option < 0 || option > MAX_SOURCE_DATE_EPOCH) refuse('sourceDateEpoch', option);
    return option;
  }
  const text = environment?.trim() ?? '';
  if (text === '') return 0;
  if (!/^\d+$/.test(text) || Number(text) > MAX_SOURCE_DATE_EPOCH) refuse('SOURCE_DATE_EPOCH', environment);
  return Number(text);
}

/** The version as annotated: semver, a leading `v` (git tag style) dropped; `not_semver` otherwise. */
export function normaliseModuleVersion(version: string): string {
  const candidate = version.trim().replace(/^v(?=\d)/, '');
  if (!SEMVER_PATTERN.test(candidate)) {
    throw new PowernodeError('not_semver', `module version "${version}" is not a semantic version; tag releases like v1.2.3 or pass --version 1.2.3`, {
      details: { field: 'version', value: version },
    });
  }
  return candidate;
}

/** Buffers small writes (tar headers) into large ones. */
class BatchedFileWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(private readonly handle: import('node:fs/promises').FileHandle) {}

  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(data);
  }
}

interface ArchivedTree {
  digest: string;
  size: number;
  path: string;
  entries: ArtifactEntry[];
}

/** Writes the tar layer into the layout's blob directory, hashing the archive and every file in the same pass. */
async function archiveTree(
  tree: readonly TreeEntry[],
  layoutDir: string,
  mtime: number,
  onProgress: ArtifactProgressListener | undefined,
): Promise<ArchivedTree> {
  const fileDigests = new Map<string, { digest: string; sha256: string }>();
  const bytesTotal = tree.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0);
  let entriesDone = 0;
  let bytesDone = 0;
  const temporary = path.join(layoutDir, 'blobs', 'sha256', `.tree-${randomBytes(6).toString('hex')}.partial`);
  const archiveHash = createHash('sha256');
  let size = 0;
  const handle = await open(temporary, 'w');
  try {
    const writer = new BatchedFileWriter(handle);
    const tar = reproducibleTar(tree, {
      mtime,
      observeFile: (file) => {
        const verity = new FsverityHasher();
        const content = createHash('sha256');
        return {
          update: (chunk) => {
            verity.update(chunk);
            content.update(chunk);
          },
          end: () => fileDigests.set(file.path, { digest: verity.digest(), sha256: content.digest('hex') }),
        };
      },
      onEntry: (entry) => {
        entriesDone += 1;
        if (entry.type === 'file') bytesDone += entry.size;
        onProgress?.('tree_entry_archived', {
          path: entry.path,
          entries_done: entriesDone,
          entries_total: tree.length,
          bytes_done: bytesDone,
          bytes_total: bytesTotal,
        });
      },
    });
    for await (const chunk of tar) {
      archiveHash.update(chunk);
      size += chunk.length;
      await writer.write(chunk);
    }
    await writer.flush();
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  const digest = `sha256:${archiveHash.digest('hex')}`;
  const finalPath = blobPathIn(layoutDir, digest);
  await rename(temporary, finalPath);

  const entries: ArtifactEntry[] = tree.map((entry) => {
    const common = { path: entry.path, type: entry.type, mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid };
    switch (entry.type) {
      case 'directory':
        return { ...common, size: 0 };
      case 'symlink':
        return { ...common, size: Buffer.byteLength(entry.linkTarget, 'utf8'), linkTarget: entry.linkTarget };
      case 'file': {
        const digests = fileDigests.get(entry.path)!;
        return { ...common, size: entry.size, digest: digests.digest, sha256: digests.sha256 };
      }
      default: {
        const unreachable: never = entry;
        return unreachable;
      }
    }
  });
  return { digest, size, path: finalPath, entries };
}

/** rootfs/ minus mask, or, with installed packages, the package tree and rootfs/ merged, minus mask. */
async function moduleTree(dir: string, manifest: ModuleManifest, packageTree: PackageTree | undefined): Promise<TreeEntry[]> {
  if (packageTree === undefined) return readModuleTree(dir, manifest);
  const rootfs = await readModuleTree(dir, { mask: [] });
  return applyMask(mergePackageAndRootfsTrees(packageTree.entries, rootfs), compileMask(manifest.mask));
}

function layerDescriptor(role: Exclude<ModuleBlobRole, 'config'>, mediaType: string, digest: string, size: number): Descriptor {
  return { mediaType, digest, size, annotations: { [MODULE_ANNOTATIONS.title]: MODULE_LAYER_TITLES[role] } };
}

/**
 * Builds the module artifact of DESIGN §4 from a module directory: the tree layer (reproducible tar of
 * rootfs/, merged over the installed package files when `packageTree` is given, minus `mask`), the composefs description with every file's fs-verity digest, the CycloneDX SBOM,
 * the module manifest as config, and the image manifest annotated with name, version, root hash and
 * composefs digest. Written as an OCI image layout. Same inputs, same manifest digest: nothing depends on the
 * clock, the checkout's timestamps, owners or umask.
 */
export async function buildModuleArtifact(options: BuildModuleArtifactOptions): Promise<BuiltModuleArtifact> {
  const mtime = resolveSourceDateEpoch(options.sourceDateEpoch);
  const version = options.version === undefined ? undefined : normaliseModuleVersion(options.version);
  const moduleManifest = await loadModuleManifest(options.dir);
  const tree = await moduleTree(options.dir, moduleManifest, options.packageTree);
  options.onProgress?.('tree_read', {
    entries: tree.length,
    files: tree.filter((entry) => entry.type === 'file').length,
    bytes: tree.reduce((sum, entry) => sum + (entry.type === 'file' ? entry.size : 0), 0),
  });

  const temporaryLayout = options.outDir === undefined;
  const layoutDir = options.outDir ?? (await mkdtemp(path.join(tmpdir(), 'powernode-module-build-')));
  try {
    await mkdir(path.join(layoutDir, 'blobs', 'sha256'), { recursive: true });
    const blobs = new Map<string, ArtifactBlob>();
    const addBlob = async (role: ModuleBlobRole, mediaType: string, bytes: Buffer): Promise<string> => {
      const digest = sha256Digest(bytes);
      const blobPath = blobPathIn(layoutDir, digest);
      await writeFile(blobPath, bytes);
      blobs.set(digest, { role, mediaType, size: bytes.length, path: blobPath, bytes });
      options.onProgress?.('blob_built', { role, digest, size: bytes.length });
      return digest;
    };

    const archive = await archiveTree(tree, layoutDir, mtime, options.onProgress);
    blobs.set(archive.digest, { role: 'tree', mediaType: MODULE_TREE_LAYER_MEDIA_TYPE, size: archive.size, path: archive.path });
    options.onProgress?.('blob_built', { role: 'tree', digest: archive.digest, size: archive.size });

    const description = formatComposefsDescription(archive.entries, { mtime });
    const rootHash = fsverityDigestOfBuffer(description);
    const composefsDigest = await addBlob('composefs', COMPOSEFS_DESCRIPTION_MEDIA_TYPE, description);

    const sbom = buildModuleSbom({
      manifest: moduleManifest,
      ...(version === undefined ? {} : { version }),
      files: archive.entries
        .filter((entry) => entry.type === 'file')
        .map((entry) => ({ path: entry.path, sha256: entry.sha256!, fsverityDigest: entry.digest! })),
      sourceDateEpoch: mtime,
      packageNamespace: options.packageTree?.vendor ?? options.packageNamespace ?? 'ubuntu',
      toolVersion: MODULE_BUILDER_VERSION,
      ...(options.packageTree === undefined ? {} : { installedPackages: options.packageTree.packages, distributionSuite: options.packageTree.suite }),
    });
    const sbomDigest = await addBlob('sbom', CYCLONEDX_SBOM_MEDIA_TYPE, sbom);

    const config = canonicalJsonBytes(moduleManifest);
    const configDigest = await addBlob('config', MODULE_CONFIG_MEDIA_TYPE, config);

    const annotations: Record<string, string> = {
      [MODULE_ANNOTATIONS.name]: moduleManifest.name,
      ...(version === undefined ? {} : { [MODULE_ANNOTATIONS.version]: version }),
      [MODULE_ANNOTATIONS.fsverityRootHash]: rootHash,
      [MODULE_ANNOTATIONS.composefsDigest]: composefsDigest,
      ...(options.source === undefined ? {} : { [MODULE_ANNOTATIONS.source]: options.source }),
      ...(options.revision === undefined ? {} : { [MODULE_ANNOTATIONS.revision]: options.revision }),
    };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType: MODULE_ARTIFACT_TYPE,
      config: { mediaType: MODULE_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length },
      layers: [
        layerDescriptor('tree', MODULE_TREE_LAYER_MEDIA_TYPE, archive.digest, archive.size),
        layerDescriptor('composefs', COMPOSEFS_DESCRIPTION_MEDIA_TYPE, composefsDigest, description.length),
        layerDescriptor('sbom', CYCLONEDX_SBOM_MEDIA_TYPE, sbomDigest, sbom.length),
      ],
      annotations,
    };
    const manifestBytes = canonicalJsonBytes(manifest);
    const manifestDigest = sha256Digest(manifestBytes);
    options.onProgress?.('manifest_built', { digest: manifestDigest, root_hash: rootHash, composefs_digest: composefsDigest });

    const built: BuiltModuleArtifact = {
      manifest,
      manifestBytes,
      manifestDigest,
      moduleManifest,
      version,
      blobs,
      rootHash,
      composefsDigest,
      entries: archive.entries,
      layoutDir,
      dispose: async () => {
        if (temporaryLayout) await rm(layoutDir, { recursive: true, force: true });
      },
    };
    await writeLayoutFiles(layoutDir, built);
    return built;
  } catch (error) {
    if (temporaryLayout) await rm(layoutDir, { recursive: true, force: true });
    throw error;
  }
}
