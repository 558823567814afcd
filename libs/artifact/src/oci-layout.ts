import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PowernodeError } from '@powernode/contracts';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, assertDigest, canonicalJsonBytes, type ImageIndex } from '@powernode/oci';

/*
 * The OCI image layout (image-spec `image-layout.md`) of one built module artifact: `oci-layout`,
 * `index.json` listing the manifest (tagged with the module version, else its name), and every blob under
 * `blobs/sha256/<hex>`. `oras cp --from-oci-layout`, skopeo and `regctl` read it.
 */

/** What the layout writers need of a built artifact. */
export interface LayoutArtifact {
  manifestBytes: Buffer;
  manifestDigest: string;
  version: string | undefined;
  moduleManifest: { name: string };
  manifest: { artifactType?: string };
  blobs: ReadonlyMap<string, { path: string; bytes?: Buffer; size: number }>;
}

/** Path of a blob inside an OCI image layout. */
export function blobPathIn(layoutDir: string, digest: string): string {
  assertDigest(digest);
  const [algorithm, hex] = digest.split(':') as [string, string];
  return path.join(layoutDir, 'blobs', algorithm, hex);
}

/** The `index.json` of a layout holding this one artifact. */
export function layoutIndex(artifact: LayoutArtifact): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: [
      {
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        digest: artifact.manifestDigest,
        size: artifact.manifestBytes.length,
        ...(artifact.manifest.artifactType === undefined ? {} : { artifactType: artifact.manifest.artifactType }),
        annotations: { 'org.opencontainers.image.ref.name': artifact.version ?? artifact.moduleManifest.name },
      },
    ],
  };
}

/** Writes the manifest blob, `oci-layout` and `index.json` into a layout whose other blobs are in place. */
export async function writeLayoutFiles(layoutDir: string, artifact: LayoutArtifact): Promise<void> {
  await mkdir(path.join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(blobPathIn(layoutDir, artifact.manifestDigest), artifact.manifestBytes);
  await writeFile(path.join(layoutDir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  await writeFile(path.join(layoutDir, 'index.json'), canonicalJsonBytes(layoutIndex(artifact)));
}

/**
 * Writes a built artifact as an OCI image layout into `outDir` (for `powernode module build --out`): every
 * blob, the manifest, `oci-layout` and an `index.json` listing only this artifact. Returns `outDir`.
 */
export async function writeOciLayout(artifact: LayoutArtifact, outDir: string): Promise<string> {
  try {
    await mkdir(path.join(outDir, 'blobs', 'sha256'), { recursive: true });
    for (const [digest, blob] of artifact.blobs) {
      const target = blobPathIn(outDir, digest);
      if (path.resolve(target) === path.resolve(blob.path)) continue;
      if (blob.bytes !== undefined) await writeFile(target, blob.bytes);
      else await copyFile(blob.path, target);
    }
    await writeLayoutFiles(outDir, artifact);
  } catch (cause) {
    throw new PowernodeError('validation_failed', `cannot write the OCI layout to ${outDir}: ${(cause as Error).message}; pass a writable --out directory`, {
      cause,
      details: { out_dir: outDir },
    });
  }
  return outDir;
}
