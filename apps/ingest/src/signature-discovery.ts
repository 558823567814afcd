import { isPowernodeError } from '@powernode/contracts';
import { isImageIndex, type Descriptor, type OciClient } from '@powernode/oci';
import { cosignSignatureTag, SIMPLE_SIGNING_MEDIA_TYPE } from '@powernode/sigstore';
import { isSigstoreBundleType, type SignatureCandidate } from './signature-candidates.js';

/** Referrers considered per manifest: enough for re-signing and rotation, bounded against a hostile registry. */
const MAX_SIGNATURE_REFERRERS = 16;
/** A bundle or a simple-signing payload is a few kilobytes. */
const MAX_SIGNATURE_BYTES = 1024 * 1024;

/**
 * Every signature the registry holds for `manifestDigest`: Sigstore bundles attached as referrers (referrers
 * API, or the `sha256-<hex>` tag index on registries without it) and legacy cosign `sha256-<hex>.sig`
 * signatures. Reads only; registry failures propagate as they are.
 */
export async function discoverSignatures(client: OciClient, repository: string, manifestDigest: string): Promise<SignatureCandidate[]> {
  return [...(await bundleReferrers(client, repository, manifestDigest)), ...(await legacyCosignSignatures(client, repository, manifestDigest))];
}

/**
 * Runs one read of signature content: a registry that cannot answer now propagates (the delivery is retried),
 * content that is wrong for good (digest mismatch, oversized, not a manifest) becomes an unreadable candidate,
 * so one broken attachment neither rejects the build nor hides the signatures next to it.
 */
async function readOrUnreadable(source: string, read: () => Promise<SignatureCandidate[]>): Promise<SignatureCandidate[]> {
  try {
    return await read();
  } catch (error) {
    if (isPowernodeError(error) && !error.retryable) return [{ kind: 'unreadable', source, reason: error.message }];
    throw error;
  }
}

async function bundleReferrers(client: OciClient, repository: string, manifestDigest: string): Promise<SignatureCandidate[]> {
  const referrers = (await client.referrers(repository, manifestDigest)).filter((d: Descriptor) => isSigstoreBundleType(d.artifactType));
  const candidates: SignatureCandidate[] = [];
  for (const referrer of referrers.slice(0, MAX_SIGNATURE_REFERRERS)) {
    const source = `referrer ${referrer.digest}`;
    const read = await readOrUnreadable(source, async () => {
      const pulled = await client.getManifest(repository, referrer.digest);
      if (isImageIndex(pulled.manifest)) return [];
      const found: SignatureCandidate[] = [];
      for (const layer of pulled.manifest.layers) {
        if (!isSigstoreBundleType(layer.mediaType)) continue;
        found.push({ kind: 'sigstore_bundle', source, bundle: await client.getBlob(repository, layer, { maxBytes: MAX_SIGNATURE_BYTES }) });
      }
      return found;
    });
    candidates.push(...read);
  }
  return candidates;
}

async function legacyCosignSignatures(client: OciClient, repository: string, manifestDigest: string): Promise<SignatureCandidate[]> {
  const tag = cosignSignatureTag(manifestDigest);
  let pulled;
  try {
    pulled = await client.getManifest(repository, tag);
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'not_found') return [];
    throw error;
  }
  if (isImageIndex(pulled.manifest)) return [];
  const candidates: SignatureCandidate[] = [];
  for (const layer of pulled.manifest.layers.slice(0, MAX_SIGNATURE_REFERRERS)) {
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
    const source = `${tag} layer ${layer.digest}`;
    candidates.push(
      ...(await readOrUnreadable(source, async () => [
        {
          kind: 'cosign_legacy',
          source,
          payload: await client.getBlob(repository, layer, { maxBytes: MAX_SIGNATURE_BYTES }),
          annotations: layer.annotations ?? {},
        },
      ])),
    );
  }
  return candidates;
}
