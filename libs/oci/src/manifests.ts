import { PowernodeError } from '@powernode/contracts';
import { canonicalJsonBytes } from './canonical-json.js';
import { assertDigest, digestWithAlgorithm, isDigest, sha256Digest } from './digest.js';
import { nextLink } from './link-header.js';
import { assertManifestShape, manifestMediaType, type Manifest, type ManifestResult } from './manifest-types.js';
import { MANIFEST_ACCEPT_TYPES } from './media-types.js';
import { isTag } from './reference.js';
import { OCTET_STREAM, assertRepository, pullScope, pushScope, type RegistryContext } from './registry-context.js';
import { BodyInterrupted, baseMediaType, bodyChunks, contentLength, discardBody, withBodyRetries } from './response-body.js';

/** A manifest to push: a document (serialised as canonical JSON) or exact bytes with their media type. */
export type ManifestInput = Manifest | { bytes: Uint8Array; mediaType: string };

/** A manifest's identity without its body (`HEAD`). */
export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

function assertManifestReference(reference: string): void {
  if (!isTag(reference) && !isDigest(reference)) {
    throw new PowernodeError('validation_failed', `manifest reference "${reference}" is neither a tag nor a sha256:<hex> digest`, {
      details: { field: 'reference', value: reference },
    });
  }
}

/**
 * Pushes a manifest or index under a tag or its digest. A document is serialised as canonical JSON
 * (same content, same digest); the registry's reported digest must match ours.
 */
export async function putManifest(context: RegistryContext, repository: string, reference: string, input: ManifestInput): Promise<ManifestResult> {
  return (await pushManifest(context, repository, reference, input)).result;
}

/** `putManifest`, also answering the registry's `OCI-Subject` header (set when it indexed a referrer itself). */
export async function pushManifest(
  context: RegistryContext,
  repository: string,
  reference: string,
  input: ManifestInput,
): Promise<{ result: ManifestResult; subjectHeader: string | null }> {
  assertRepository(repository);
  assertManifestReference(reference);
  let bytes: Buffer;
  let mediaType: string;
  let manifest: Manifest;
  if ('bytes' in input && ArrayBuffer.isView(input.bytes)) {
    bytes = Buffer.from(input.bytes);
    mediaType = input.mediaType;
    manifest = parseManifest(bytes, sha256Digest(bytes), mediaType, `manifest for ${repository}:${reference}`).manifest;
  } else {
    const document = input as Manifest;
    mediaType = manifestMediaType(document);
    // The bytes state their own media type, as registries and the OCI spec expect.
    manifest = { ...document, mediaType } as Manifest;
    bytes = canonicalJsonBytes(manifest);
  }
  const digest = sha256Digest(bytes);
  const what = `push manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  if (isDigest(reference) && reference !== digest) {
    throw new PowernodeError('digest_mismatch', `${what}: the manifest hashes to ${digest}, not the digest it is pushed under`, {
      details: { expected_digest: reference, actual_digest: digest },
    });
  }
  const response = await context.transport.request({
    method: 'PUT',
    url: `/v2/${repository}/manifests/${reference}`,
    headers: { 'content-type': mediaType },
    body: bytes,
    scopes: [pushScope(repository)],
    accept: [201, 200],
    what,
  });
  await discardBody(response);
  const reported = response.headers.get('docker-content-digest');
  if (reported !== null && reported.startsWith('sha256:') && isDigest(reported) && reported !== digest) {
    throw new PowernodeError('digest_mismatch', `${what}: the registry stored it as ${reported}, we computed ${digest}`, {
      details: { expected_digest: digest, actual_digest: reported },
    });
  }
  return { result: { digest, mediaType, bytes, manifest }, subjectHeader: response.headers.get('oci-subject') };
}

/**
 * Pulls a manifest or index by tag or digest with every manifest type in Accept. Pulled by digest, the
 * bytes must hash to it; by tag, they must hash to the digest the registry reports.
 */
export async function getManifest(
  context: RegistryContext,
  repository: string,
  reference: string,
  options: { accept?: readonly string[] } = {},
): Promise<ManifestResult> {
  assertRepository(repository);
  assertManifestReference(reference);
  const what = `pull manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  return withBodyRetries(context, what, async () => {
    const response = await context.transport.request({
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: (options.accept ?? MANIFEST_ACCEPT_TYPES).join(', ') },
      scopes: [pullScope(repository)],
      accept: [200],
      what,
    });
    const bytes = await readManifestBody(context, response, what);
    const reported = response.headers.get('docker-content-digest');
    const expected = isDigest(reference) ? reference : reported !== null && isDigest(reported) ? reported : undefined;
    const digest = digestWithAlgorithm(bytes, expected?.startsWith('sha512:') === true ? 'sha512' : 'sha256');
    if (expected !== undefined && digest !== expected) {
      throw new PowernodeError(
        'digest_mismatch',
        `${what}: the manifest hashes to ${digest} but ${isDigest(reference) ? 'was requested as' : 'the registry reports'} ${expected}; do not use it`,
        { details: { expected_digest: expected, actual_digest: digest } },
      );
    }
    return parseManifest(bytes, digest, response.headers.get('content-type'), what);
  });
}

/** Digest, media type and size of a manifest without pulling it, or undefined when there is none. */
export async function headManifest(context: RegistryContext, repository: string, reference: string): Promise<ManifestHead | undefined> {
  assertRepository(repository);
  assertManifestReference(reference);
  const response = await context.transport.request({
    method: 'HEAD',
    url: `/v2/${repository}/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT_TYPES.join(', ') },
    scopes: [pullScope(repository)],
    accept: [200, 404],
    what: `check manifest ${repository}:${reference}`,
  });
  await discardBody(response);
  if (response.status === 404) return undefined;
  const digest = response.headers.get('docker-content-digest');
  const size = contentLength(response);
  const mediaType = baseMediaType(response.headers.get('content-type'));
  if (digest !== null && isDigest(digest) && size !== undefined && mediaType !== undefined) return { digest, mediaType, size };
  // Registries may omit the headers on HEAD: fall back to a verified GET.
  const pulled = await getManifest(context, repository, reference);
  return { digest: pulled.digest, mediaType: pulled.mediaType, size: pulled.bytes.length };
}

/** Deletes a manifest by digest (which untags every tag pointing at it); the registry must allow deletes. */
export async function deleteManifest(context: RegistryContext, repository: string, digest: string): Promise<void> {
  assertRepository(repository);
  assertDigest(digest);
  const what = `delete manifest ${repository}@${digest}`;
  const response = await context.transport.request({
    method: 'DELETE',
    url: `/v2/${repository}/manifests/${digest}`,
    scopes: [`repository:${repository}:delete`],
    accept: [202, 200, 405],
    what,
  });
  await discardBody(response);
  if (response.status === 405) {
    throw new PowernodeError('registry_error', `${what}: the registry does not allow deletes (405); enable deletion in its configuration`, {
      retryable: false,
      details: { status: 405 },
    });
  }
}

/** Every tag of a repository, following `Link` pagination; an unknown repository has no tags. */
export async function listTags(context: RegistryContext, repository: string, options: { pageSize?: number } = {}): Promise<string[]> {
  assertRepository(repository);
  const tags: string[] = [];
  const seen = new Set<string>();
  let url: string | undefined = `/v2/${repository}/tags/list?n=${options.pageSize ?? 1000}`;
  while (url !== undefined && !seen.has(url)) {
    seen.add(url);
    const what = `list tags of ${repository}`;
    const response = await context.transport.request({ method: 'GET', url, scopes: [pullScope(repository)], accept: [200, 404], what });
    if (response.status === 404) {
      await discardBody(response);
      break;
    }
    let page: { tags?: unknown };
    try {
      page = (await response.json()) as { tags?: unknown };
    } catch (cause) {
      throw new PowernodeError('registry_error', `${what}: the registry answered with invalid JSON`, { cause, retryable: false });
    }
    const pageTags = Array.isArray(page.tags) ? page.tags.filter((tag): tag is string => typeof tag === 'string') : [];
    tags.push(...pageTags);
    url = pageTags.length === 0 ? undefined : nextLink(response.headers.get('link'));
  }
  return tags;
}

/** Parses manifest bytes and settles their media type: the Content-Type, or the document's own when that is generic. */
export function parseManifest(bytes: Buffer, digest: string, contentType: string | null, what: string): ManifestResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new PowernodeError('registry_error', `${what}: the manifest is not valid JSON`, { cause, retryable: false });
  }
  const declared = baseMediaType(contentType);
  const documentType = typeof (parsed as { mediaType?: unknown })?.mediaType === 'string' ? (parsed as { mediaType: string }).mediaType : undefined;
  // Some registries answer with a generic Content-Type; the document's own mediaType is then authoritative.
  const generic = declared === undefined || declared === 'application/json' || declared === 'text/plain' || declared === OCTET_STREAM;
  const provisional = generic ? (documentType ?? '') : declared;
  assertManifestShape(parsed, provisional, what);
  const mediaType = provisional === '' ? manifestMediaType(parsed) : provisional;
  return { digest, mediaType, bytes, manifest: parsed };
}

/** Reads a manifest body up to the client's manifest limit; a body shorter than declared broke off. */
export async function readManifestBody(context: RegistryContext, response: Response, what: string): Promise<Buffer> {
  const limit = context.maxManifestBytes;
  const declared = contentLength(response);
  if (declared !== undefined && declared > limit) {
    await discardBody(response);
    throw new PowernodeError('payload_too_large', `${what}: ${declared} bytes exceed the ${limit}-byte manifest limit`, {
      details: { limit, size: declared },
    });
  }
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of bodyChunks(response)) {
    received += chunk.length;
    if (received > limit) {
      throw new PowernodeError('payload_too_large', `${what}: more than the ${limit}-byte manifest limit`, { details: { limit } });
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  if (declared !== undefined && bytes.length !== declared) {
    throw new BodyInterrupted(`manifest body ended after ${bytes.length} of ${declared} bytes`);
  }
  return bytes;
}
