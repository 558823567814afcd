/** OCI image manifest. */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (multi-arch tags, referrers responses and the referrers fallback tag). */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
/** Docker image manifest v2 schema 2. */
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list. */
export const DOCKER_MANIFEST_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The empty JSON config (`{}`) OCI artifacts without a real config point at. */
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';

/** Every manifest type we read, OCI first; registries such as distribution 2.8 only serve OCI when asked. */
export const MANIFEST_ACCEPT_TYPES = [OCI_MANIFEST_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE] as const;

/** The `{}` blob and its descriptor, shared by every artifact that has no config of its own. */
export const OCI_EMPTY_JSON = Buffer.from('{}');
export const OCI_EMPTY_DESCRIPTOR = {
  mediaType: OCI_EMPTY_MEDIA_TYPE,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;

/** True for media types whose document lists other manifests (`manifests[]`) rather than layers. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX_MEDIA_TYPE || mediaType === DOCKER_MANIFEST_LIST_MEDIA_TYPE;
}
