import { COSIGN_SIGN_PREDICATE_TYPE, type SerializedBundle } from '@powernode/sigstore';
import {
  OCI_EMPTY_DESCRIPTOR,
  OCI_EMPTY_JSON,
  OCI_MANIFEST_MEDIA_TYPE,
  sha256Digest,
  type AttachedReferrer,
  type Descriptor,
  type ImageManifest,
  type OciClient,
} from '@powernode/oci';

/** artifactType (and layer media type) of a Sigstore bundle attached to an image, as cosign v3 writes it. */
export const SIGSTORE_BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** The bundle's bytes as stored in the referrer layer. */
export function bundleBytes(bundle: SerializedBundle): Buffer {
  return Buffer.from(JSON.stringify(bundle), 'utf8');
}

/**
 * The referrer manifest carrying a signature bundle for `subject`, laid out as cosign v3 attaches one:
 * empty config, one layer holding the bundle JSON, the bundle's content kind and predicate type annotated.
 */
export function signatureReferrerManifest(subject: Descriptor, bundle: SerializedBundle, bytes: Buffer, createdAt: Date): ImageManifest {
  const isDsse = (bundle as { dsseEnvelope?: unknown }).dsseEnvelope !== undefined;
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE,
    config: { ...OCI_EMPTY_DESCRIPTOR },
    layers: [{ mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE, digest: sha256Digest(bytes), size: bytes.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      'dev.sigstore.bundle.content': isDsse ? 'dsse-envelope' : 'message-signature',
      ...(isDsse ? { 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE } : {}),
      'org.opencontainers.image.created': createdAt.toISOString(),
    },
  };
}

/**
 * Uploads the bundle and attaches it to the image as an OCI referrer: through the referrers API when the
 * registry has one, else by updating the `sha256-<hex>` tag index (the OCI fallback scheme).
 */
export async function attachSignatureReferrer(
  client: OciClient,
  repository: string,
  subject: Descriptor,
  bundle: SerializedBundle,
  createdAt = new Date(),
): Promise<AttachedReferrer> {
  const bytes = bundleBytes(bundle);
  await client.uploadBlob(repository, OCI_EMPTY_JSON, { mediaType: OCI_EMPTY_DESCRIPTOR.mediaType });
  await client.uploadBlob(repository, bytes, { mediaType: SIGSTORE_BUNDLE_ARTIFACT_TYPE });
  return client.attachReferrer(repository, signatureReferrerManifest(subject, bundle, bytes, createdAt));
}
