import { PowernodeError } from '@powernode/contracts';
import { OCI_MANIFEST_MEDIA_TYPE, parseReference, type OciClient, type OciReference } from '@powernode/oci';
import type { ArtifactProgressListener } from './artifact-progress.js';
import type { BuiltModuleArtifact } from './module-artifact-build.js';

/** Options of `pushModuleArtifact`. */
export interface PushModuleArtifactOptions {
  onProgress?: ArtifactProgressListener;
}

/** Parses a reference and checks it points at the client's registry; `validation_failed` otherwise. */
export function referenceForClient(client: OciClient, reference: string | OciReference): OciReference {
  const parsed = typeof reference === 'string' ? parseReference(reference, { defaultRegistry: client.registry }) : reference;
  if (parsed.registry !== client.registry) {
    throw new PowernodeError(
      'validation_failed',
      `reference names registry ${parsed.registry} but the client talks to ${client.registry}; use a client for ${parsed.registry}`,
      { details: { field: 'reference', registry: parsed.registry, client_registry: client.registry } },
    );
  }
  return parsed;
}

/**
 * Pushes a built module artifact: every blob the repository lacks (config first, then the layers), then the
 * manifest's exact bytes under the reference's tag (or its digest when the reference has no tag). Returns
 * the manifest digest.
 */
export async function pushModuleArtifact(
  client: OciClient,
  reference: string | OciReference,
  built: Pick<BuiltModuleArtifact, 'blobs' | 'manifest' | 'manifestBytes' | 'manifestDigest'>,
  options: PushModuleArtifactOptions = {},
): Promise<string> {
  const target = referenceForClient(client, reference);
  if (target.digest !== undefined && target.digest !== built.manifestDigest) {
    throw new PowernodeError(
      'digest_mismatch',
      `the reference pins ${target.digest} but the built artifact is ${built.manifestDigest}; push it by tag or by its own digest`,
      {
        details: { expected_digest: target.digest, actual_digest: built.manifestDigest },
      },
    );
  }
  const descriptors = [built.manifest.config, ...built.manifest.layers];
  for (const descriptor of descriptors) {
    const blob = built.blobs.get(descriptor.digest);
    if (blob === undefined) {
      throw new PowernodeError('validation_failed', `the built artifact lacks blob ${descriptor.digest} (${descriptor.mediaType}); build it again`, {
        details: { digest: descriptor.digest },
      });
    }
    const uploaded = await client.uploadBlob(target.repository, blob.bytes ?? { path: blob.path }, {
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
    });
    options.onProgress?.('blob_pushed', { role: blob.role, digest: descriptor.digest, size: blob.size, via: uploaded.via });
  }
  const manifestReference = target.tag ?? built.manifestDigest;
  const pushed = await client.putManifest(target.repository, manifestReference, { bytes: built.manifestBytes, mediaType: OCI_MANIFEST_MEDIA_TYPE });
  if (pushed.digest !== built.manifestDigest) {
    throw new PowernodeError('digest_mismatch', `the registry stored the manifest as ${pushed.digest}, the build produced ${built.manifestDigest}`, {
      details: { expected_digest: built.manifestDigest, actual_digest: pushed.digest },
    });
  }
  options.onProgress?.('manifest_pushed', {
    digest: pushed.digest,
    reference: `${target.registry}/${target.repository}${target.tag === undefined ? '@' : ':'}${manifestReference}`,
  });
  return pushed.digest;
}
