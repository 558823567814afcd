import type { Descriptor, ImageIndex } from './manifest-types.js';
import { OCI_INDEX_MEDIA_TYPE } from './media-types.js';

/** The fallback tag the OCI spec assigns to the referrers of a manifest: `sha256:<hex>` → `sha256-<hex>`. */
export function referrersTag(subjectDigest: string): string {
  return subjectDigest.replace(':', '-').slice(0, 128);
}

/** An empty referrers index, as a registry without referrers support starts it. */
export function emptyReferrersIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
}

/** The index with `referrer` appended, or the same index when it already lists that digest (idempotent). */
export function withReferrer(index: ImageIndex, referrer: Descriptor): ImageIndex {
  if (index.manifests.some((entry) => entry.digest === referrer.digest)) return index;
  return { ...index, mediaType: index.mediaType ?? OCI_INDEX_MEDIA_TYPE, manifests: [...index.manifests, referrer] };
}

/** Referrers of the given artifact type (all of them when no type is asked for). */
export function filterReferrers(referrers: readonly Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? [...referrers] : referrers.filter((entry) => entry.artifactType === artifactType);
}

/** The tag legacy cosign stores a signature under: `sha256:<hex>` → `sha256-<hex>.sig`. */
export function cosignSignatureTag(subjectDigest: string): string {
  return `${subjectDigest.replace(':', '-')}.sig`;
}
