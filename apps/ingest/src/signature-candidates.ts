/** A signature found for a manifest, as stored in the registry, before any verification. */
export type SignatureCandidate =
  /** A Sigstore bundle attached as an OCI referrer (cosign v3, `powernode module sign`). */
  | { kind: 'sigstore_bundle'; source: string; bundle: Uint8Array }
  /** A layer of a legacy cosign `sha256-<hex>.sig` manifest: the simple-signing payload and its annotations. */
  | { kind: 'cosign_legacy'; source: string; payload: Uint8Array; annotations: Readonly<Record<string, string>> }
  /** Something attached as a signature whose content could not be read (wrong digest, oversized, malformed). */
  | { kind: 'unreadable'; source: string; reason: string };

/** Media types (and artifactTypes) of Sigstore bundles: `…bundle.v0.3+json` and the older `…bundle+json;version=…`. */
export const SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';

/** True for a Sigstore bundle media type or artifactType. */
export function isSigstoreBundleType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && mediaType.startsWith(SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX);
}
