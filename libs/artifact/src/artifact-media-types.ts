/** `artifactType` of every module artifact manifest. */
export const MODULE_ARTIFACT_TYPE = 'application/vnd.powernode.module.v1';
/** Config blob: the module manifest (manifest.yaml) as canonical JSON. */
export const MODULE_CONFIG_MEDIA_TYPE = 'application/vnd.powernode.module.config.v1+json';
/** Layer 1: the module's file tree as a reproducible POSIX tar. */
export const MODULE_TREE_LAYER_MEDIA_TYPE = 'application/vnd.powernode.module.layer.v1.tar';
/** Layer 2: the composefs-dump(5) description of that tree, with each file's fs-verity digest. */
export const COMPOSEFS_DESCRIPTION_MEDIA_TYPE = 'application/vnd.powernode.composefs.dump.v1';
/** Layer 3: the CycloneDX SBOM. */
export const CYCLONEDX_SBOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

/** Manifest annotation keys of a module artifact. */
export const MODULE_ANNOTATIONS = {
  name: 'io.powernode.module.name',
  version: 'io.powernode.module.version',
  /** fs-verity digest of the composefs description: it covers every file of the tree. */
  fsverityRootHash: 'io.powernode.fsverity_root_hash',
  /** sha256 of the composefs description blob (its layer digest). */
  composefsDigest: 'io.powernode.composefs_digest',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  /** Layer file names, so generic tools (oras pull) write sensible files. */
  title: 'org.opencontainers.image.title',
} as const;

/** What each blob of a module artifact is. */
export type ModuleBlobRole = 'config' | 'tree' | 'composefs' | 'sbom';

/** Layer file names (`org.opencontainers.image.title`), in manifest order. */
export const MODULE_LAYER_TITLES = {
  tree: 'rootfs.tar',
  composefs: 'composefs.dump',
  sbom: 'sbom.cdx.json',
} as const;
