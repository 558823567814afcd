import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import { canonicalJsonBytes } from './canonical-json.js';
import { assertDigest, isDigest, sha256Digest } from './digest.js';
import {
  isImageIndex,
  manifestMediaType,
  referrerArtifactType,
  type Descriptor,
  type ImageIndex,
  type Manifest,
  type ManifestResult,
} from './manifest-types.js';
import { getManifest, parseManifest, pushManifest, putManifest, readManifestBody } from './manifests.js';
import { OCI_INDEX_MEDIA_TYPE } from './media-types.js';
import { assertRepository, pullScope, type RegistryContext } from './registry-context.js';
import { emptyReferrersIndex, filterReferrers, referrersTag, withReferrer } from './referrers-index.js';
import { discardBody } from './response-body.js';

/** Result of `attachReferrer`: the pushed referrer, and the fallback tag when the registry needed one. */
export interface AttachedReferrer extends ManifestResult {
  /** `sha256-<hex>` when the registry has no referrers API and the tag index was updated. */
  fallbackTag?: string;
}

const FALLBACK_INDEX_ATTEMPTS = 3;

/**
 * Descriptors of the manifests whose `subject` is `digest`, optionally of one artifact type: from the
 * referrers API, or from the `sha256-<hex>` tag index on registries without it.
 */
export async function listReferrers(context: RegistryContext, repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
  assertRepository(repository);
  assertDigest(digest);
  const what = `list referrers of ${repository}@${digest}`;
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const response = await context.transport.request({
    method: 'GET',
    url: `/v2/${repository}/referrers/${digest}${query}`,
    headers: { accept: OCI_INDEX_MEDIA_TYPE },
    scopes: [pullScope(repository)],
    accept: [200, 404],
    what,
  });
  if (response.status === 200) {
    const bytes = await readManifestBody(context, response, what);
    const index = parseManifest(bytes, sha256Digest(bytes), response.headers.get('content-type') ?? OCI_INDEX_MEDIA_TYPE, what).manifest;
    if (!isImageIndex(index))
      throw new PowernodeError('registry_error', `${what}: the referrers API answered with something that is not an index`, { retryable: false });
    // Filtering is optional for the registry; OCI-Filters-Applied says whether it did.
    const filtered = (response.headers.get('oci-filters-applied') ?? '')
      .split(',')
      .map((f) => f.trim())
      .includes('artifactType');
    return filtered ? [...index.manifests] : filterReferrers(index.manifests, artifactType);
  }
  await discardBody(response);
  const fallback = await readReferrersTagIndex(context, repository, digest);
  return filterReferrers(fallback?.manifests ?? [], artifactType);
}

/**
 * Pushes a referrer (a manifest with `subject`) by its digest. A registry with the referrers API indexes
 * it itself (it answers with `OCI-Subject`); otherwise the `sha256-<hex>` tag index is updated as the OCI
 * spec describes, re-read after writing so a concurrent writer cannot silently drop the entry.
 */
export async function attachReferrer(context: RegistryContext, repository: string, manifest: Manifest): Promise<AttachedReferrer> {
  assertRepository(repository);
  const subject = manifest.subject;
  if (subject === undefined || !isDigest(subject.digest)) {
    throw new PowernodeError('validation_failed', 'a referrer needs a subject descriptor with a sha256 digest', { details: { field: 'subject' } });
  }
  const bytes = canonicalJsonBytes({ ...manifest, mediaType: manifestMediaType(manifest) });
  const { result, subjectHeader } = await pushManifest(context, repository, sha256Digest(bytes), manifest);
  if (subjectHeader !== null) return result;

  const tag = referrersTag(subject.digest);
  const artifactType = referrerArtifactType(result.manifest);
  const entry: Descriptor = {
    mediaType: result.mediaType,
    digest: result.digest,
    size: result.bytes.length,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(result.manifest.annotations === undefined ? {} : { annotations: result.manifest.annotations }),
  };
  for (let attempt = 0; attempt < FALLBACK_INDEX_ATTEMPTS; attempt++) {
    const current = (await readReferrersTagIndex(context, repository, subject.digest)) ?? emptyReferrersIndex();
    const next = withReferrer(current, entry);
    if (next !== current) await putManifest(context, repository, tag, next);
    const written = await readReferrersTagIndex(context, repository, subject.digest);
    if (written?.manifests.some((listed) => listed.digest === entry.digest) === true) return { ...result, fallbackTag: tag };
  }
  throw new PowernodeError('conflict', `attach referrer to ${repository}@${subject.digest}: the ${tag} index kept changing under us; retry`, {
    retryable: true,
    details: { tag },
  });
}

async function readReferrersTagIndex(context: RegistryContext, repository: string, subjectDigest: string): Promise<ImageIndex | undefined> {
  const tag = referrersTag(subjectDigest);
  let pulled: ManifestResult;
  try {
    pulled = await getManifest(context, repository, tag, { accept: [OCI_INDEX_MEDIA_TYPE] });
  } catch (error) {
    if (isPowernodeError(error) && error.code === 'not_found') return undefined;
    throw error;
  }
  if (!isImageIndex(pulled.manifest)) {
    throw new PowernodeError('conflict', `tag ${repository}:${tag} is reserved for the referrers index but holds an image manifest; remove that tag`, {
      details: { tag },
    });
  }
  return pulled.manifest;
}
