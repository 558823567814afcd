import { PowernodeError } from '@powernode/contracts';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, isIndexMediaType } from './media-types.js';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  data?: string;
  platform?: Platform;
}

/** Platform of an index entry. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/** OCI image manifest (also the shape of a Docker v2 manifest). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** OCI image index (also the shape of a Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Either kind of manifest document. */
export type Manifest = ImageManifest | ImageIndex;

/** A manifest as stored: the exact bytes (what the digest covers) and their parsed form. */
export interface ManifestResult<M extends Manifest = Manifest> {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  manifest: M;
}

/** True when the document lists manifests (an index) rather than layers. */
export function isImageIndex(manifest: Manifest): manifest is ImageIndex {
  return Array.isArray((manifest as ImageIndex).manifests);
}

/** The media type a manifest declares, or the one its shape implies (OCI manifest or OCI index). */
export function manifestMediaType(manifest: Manifest): string {
  return manifest.mediaType ?? (isImageIndex(manifest) ? OCI_INDEX_MEDIA_TYPE : OCI_MANIFEST_MEDIA_TYPE);
}

/**
 * The artifact type a referrer is listed under: the manifest's `artifactType`, else its config media type
 * (the rule of the OCI referrers API and of its tag fallback).
 */
export function referrerArtifactType(manifest: Manifest): string | undefined {
  return manifest.artifactType ?? (isImageIndex(manifest) ? undefined : manifest.config.mediaType);
}

/**
 * Checks that parsed JSON is a schema-2 manifest or index consistent with its media type; `where` says in
 * the error which document failed.
 */
export function assertManifestShape(value: unknown, mediaType: string, where: string): asserts value is Manifest {
  const fail = (why: string): never => {
    throw new PowernodeError('registry_error', `${where} is not a usable manifest: ${why}`, {
      retryable: false,
      details: { media_type: mediaType },
    });
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('not a JSON object');
  const document = value as Record<string, unknown>;
  if (document['schemaVersion'] !== 2) fail(`schemaVersion is ${JSON.stringify(document['schemaVersion'])}, only 2 is supported`);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(document['manifests'])) fail('an index needs a manifests array');
  } else if (Array.isArray(document['manifests'])) {
    // An index served without its media type (some registries answer with a generic Content-Type).
  } else if (document['config'] === null || typeof document['config'] !== 'object' || !Array.isArray(document['layers'])) {
    fail('an image manifest needs config and layers');
  }
}

/** A descriptor for manifest bytes, suitable for an index entry or a `subject`. */
export function manifestDescriptor(result: Pick<ManifestResult, 'digest' | 'mediaType' | 'bytes'>): Descriptor {
  return { mediaType: result.mediaType, digest: result.digest, size: result.bytes.length };
}
