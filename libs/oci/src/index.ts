export {
  DOCKER_MANIFEST_LIST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  MANIFEST_ACCEPT_TYPES,
  OCI_EMPTY_DESCRIPTOR,
  OCI_EMPTY_JSON,
  OCI_EMPTY_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  isIndexMediaType,
} from './media-types.js';
export { assertDigest, digestWithAlgorithm, isDigest, sha256Digest, sha256DigestOfFile } from './digest.js';
export { canonicalJsonBytes } from './canonical-json.js';
export { formatReference, isRepositoryName, isTag, parseReference, type OciReference } from './reference.js';
export {
  isImageIndex,
  manifestDescriptor,
  manifestMediaType,
  referrerArtifactType,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Manifest,
  type ManifestResult,
  type Platform,
} from './manifest-types.js';
export { cosignSignatureTag, referrersTag } from './referrers-index.js';
export type { RegistryAuth } from './registry-transport.js';
export { isLoopbackHost, MAX_REDIRECTS, urlIsOnRegistry, type HopCheck, type RegistryHop } from './registry-hops.js';
export { OciClient, type OciClientOptions } from './oci-client.js';
export type { BlobSource, UploadBlobOptions, UploadVia, UploadedBlob } from './blob-upload.js';
export type { BlobTarget } from './blob-download.js';
export type { ManifestHead, ManifestInput } from './manifests.js';
export type { AttachedReferrer } from './referrers.js';
export { OciClientPool, isLoopbackRegistry, type OciClientPoolOptions } from './oci-client-pool.js';
