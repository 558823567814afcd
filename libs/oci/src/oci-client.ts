import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import { canonicalJsonBytes } from './canonical-json.js';
import { DigestVerifier, assertDigest, digestWithAlgorithm, isDigest, sha256Digest, sha256DigestOfFile } from './digest.js';
import { nextLink } from './link-header.js';
import {
  assertManifestShape,
  isImageIndex,
  manifestMediaType,
  referrerArtifactType,
  type Descriptor,
  type ImageIndex,
  type Manifest,
  type ManifestResult,
} from './manifest-types.js';
import { MANIFEST_ACCEPT_TYPES, OCI_INDEX_MEDIA_TYPE } from './media-types.js';
import { isRepositoryName, isTag } from './reference.js';
import { emptyReferrersIndex, filterReferrers, referrersTag, withReferrer } from './referrers-index.js';
import { RegistryTransport, type RegistryAuth, type RegistryRequest } from './registry-transport.js';

/** How to reach a registry. */
export interface OciClientOptions {
  /** `host[:port]` as in references, e.g. `127.0.0.1:5000`. */
  registry: string;
  /** Plain http instead of https (loopback and test registries). */
  insecure?: boolean;
  auth?: RegistryAuth;
  /** Extra attempts on 5xx, 429 and connection errors (default 3; 4xx is never retried). */
  retries?: number;
  /** First backoff delay in ms (default 200), doubling per attempt up to `maxRetryDelayMs` (default 5000). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Time allowed for response headers, per attempt (default 30 s). */
  requestTimeoutMs?: number;
  /** Blobs larger than this are uploaded in PATCH chunks of this size (default 8 MiB). */
  chunkSize?: number;
  /** Largest manifest accepted on pull (default 4 MiB, the limit registries apply). */
  maxManifestBytes?: number;
  fetch?: typeof fetch;
  userAgent?: string;
}

/** Content to upload: bytes in memory, or a file streamed from disk (chunk by chunk when large). */
export type BlobSource = Uint8Array | { path: string };

/** Options of `uploadBlob`. */
export interface UploadBlobOptions {
  /** Known digest (saves hashing a file first); the registry checks it on commit. */
  digest?: string;
  /** Media type for the returned descriptor (default `application/octet-stream`). */
  mediaType?: string;
  /** A repository of the same registry that may already hold the blob: mounted instead of uploaded. */
  mountFrom?: string;
  /** Overrides the client's chunk size for this upload. */
  chunkSize?: number;
}

/** How an upload was satisfied, for logs and progress output. */
export type UploadVia = 'already_present' | 'mounted' | 'monolithic' | 'chunked';

/** Result of `uploadBlob`. */
export interface UploadedBlob {
  descriptor: Descriptor;
  via: UploadVia;
}

/** What to pull: a descriptor (digest and size both verified) or a bare digest (digest verified). */
export type BlobTarget = Pick<Descriptor, 'digest' | 'size'> | string;

/** A manifest to push: a document (serialised as canonical JSON) or exact bytes with their media type. */
export type ManifestInput = Manifest | { bytes: Uint8Array; mediaType: string };

/** Result of `attachReferrer`: the pushed referrer, and the fallback tag when the registry needed one. */
export interface AttachedReferrer extends ManifestResult {
  /** `sha256-<hex>` when the registry has no referrers API and the tag index was updated. */
  fallbackTag?: string;
}

/** A manifest's identity without its body (`HEAD`). */
export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const FALLBACK_INDEX_ATTEMPTS = 3;
const OCTET_STREAM = 'application/octet-stream';

interface PreparedSource {
  digest: string;
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

const pull = (repository: string): string => `repository:${repository}:pull`;
const push = (repository: string): string => `repository:${repository}:pull,push`;

function assertRepository(repository: string): void {
  if (!isRepositoryName(repository)) {
    throw new PowernodeError(
      'validation_failed',
      `repository "${repository}" is invalid: use lowercase path components of [a-z0-9] joined by . _ __ or -, e.g. owner/module`,
      { details: { field: 'repository', value: repository } },
    );
  }
}

function assertManifestReference(reference: string): void {
  if (!isTag(reference) && !isDigest(reference)) {
    throw new PowernodeError('validation_failed', `manifest reference "${reference}" is neither a tag nor a sha256:<hex> digest`, {
      details: { field: 'reference', value: reference },
    });
  }
}

function targetOf(target: BlobTarget): { digest: string; size: number | undefined } {
  return typeof target === 'string' ? { digest: target, size: undefined } : { digest: target.digest, size: target.size };
}

function contentLength(response: Response): number | undefined {
  const header = response.headers.get('content-length');
  if (header === null) return undefined;
  const value = Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function baseMediaType(contentType: string | null): string | undefined {
  const value = contentType?.split(';')[0]?.trim().toLowerCase();
  return value === undefined || value === '' ? undefined : value;
}

/** The connection failed while a body was streaming: not a verdict on the content, worth another attempt. */
class BodyInterrupted extends Error {}

/** The chunks of a response body; a broken transfer surfaces as `BodyInterrupted`. */
async function* bodyChunks(response: Response): AsyncGenerator<Buffer> {
  if (response.body === null) return;
  try {
    for await (const chunk of Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>)) yield chunk as Buffer;
  } catch (cause) {
    throw new BodyInterrupted(`the body broke off: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Client of the OCI distribution API over fetch: blobs (monolithic, chunked and mounted uploads; verified
 * pulls), manifests and indexes, tags, referrers (API or tag fallback) and deletion. Every pulled byte is
 * checked against its digest and size before it is handed over.
 */
export class OciClient {
  readonly registry: string;
  private readonly transport: RegistryTransport;
  private readonly chunkSize: number;
  private readonly maxManifestBytes: number;
  private readonly retries: number;

  constructor(options: OciClientOptions) {
    this.registry = options.registry;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.retries = options.retries ?? 3;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize <= 0) {
      throw new PowernodeError('validation_failed', `chunkSize must be a positive integer, got ${options.chunkSize}`, { details: { field: 'chunkSize' } });
    }
    this.transport = new RegistryTransport({
      baseUrl: `${options.insecure === true ? 'http' : 'https'}://${options.registry}`,
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      retries: this.retries,
      retryDelayMs: options.retryDelayMs ?? 200,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      fetch: options.fetch ?? globalThis.fetch,
      userAgent: options.userAgent ?? 'powernode-oci/0.1',
    });
  }

  /** Checks the registry answers the distribution API (`GET /v2/`) and accepts our credentials. */
  async ping(): Promise<void> {
    const response = await this.transport.request({ method: 'GET', url: '/v2/', scopes: [], accept: [200], what: `ping ${this.registry}` });
    await response.body?.cancel().catch(() => undefined);
  }

  /** True when the repository holds the blob (`HEAD`). */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    assertRepository(repository);
    assertDigest(digest);
    const response = await this.transport.request({
      method: 'HEAD',
      url: `/v2/${repository}/blobs/${digest}`,
      scopes: [pull(repository)],
      accept: [200, 404],
      what: `check blob ${repository}@${digest}`,
    });
    await response.body?.cancel().catch(() => undefined);
    return response.status === 200;
  }

  /**
   * Uploads a blob unless the repository already has it: mounted from `mountFrom` when the registry can,
   * else one PUT for small blobs or PATCH chunks (resumed after failures) for large ones.
   */
  async uploadBlob(repository: string, source: BlobSource, options: UploadBlobOptions = {}): Promise<UploadedBlob> {
    assertRepository(repository);
    if (options.mountFrom !== undefined) assertRepository(options.mountFrom);
    const chunkSize = options.chunkSize ?? this.chunkSize;
    const prepared = await this.prepareSource(source, options.digest);
    try {
      const descriptor: Descriptor = { mediaType: options.mediaType ?? OCTET_STREAM, digest: prepared.digest, size: prepared.size };
      if (await this.blobExists(repository, prepared.digest)) return { descriptor, via: 'already_present' };

      let location: string | undefined;
      if (options.mountFrom !== undefined && options.mountFrom !== repository) {
        const mounted = await this.tryMount(repository, prepared.digest, options.mountFrom);
        if (mounted === 'mounted') return { descriptor, via: 'mounted' };
        location = mounted.location;
      }
      location ??= await this.startUpload(repository);
      if (prepared.size > chunkSize) {
        await this.uploadChunked(repository, location, prepared, chunkSize);
        return { descriptor, via: 'chunked' };
      }
      await this.commitUpload(repository, location, prepared.digest, await prepared.read(0, prepared.size));
      return { descriptor, via: 'monolithic' };
    } finally {
      await prepared.close();
    }
  }

  /** Pulls a blob into memory, verified against its digest (and size when a descriptor is given). */
  async getBlob(repository: string, target: BlobTarget, options: { maxBytes?: number } = {}): Promise<Buffer> {
    assertRepository(repository);
    const { digest, size } = targetOf(target);
    const what = `pull blob ${repository}@${digest}`;
    return this.withBodyRetries(what, async () => {
      const response = await this.openBlob(repository, digest, size, what);
      const limit = options.maxBytes;
      const declared = contentLength(response);
      if (limit !== undefined && (declared ?? size ?? 0) > limit) {
        await response.body?.cancel().catch(() => undefined);
        throw new PowernodeError('payload_too_large', `${what}: ${declared ?? size} bytes exceed the ${limit}-byte limit; stream it with getBlobStream`, {
          details: { limit, size: declared ?? size },
        });
      }
      const verifier = new DigestVerifier(digest, size, what);
      const chunks: Buffer[] = [];
      for await (const bytes of bodyChunks(response)) {
        verifier.update(bytes);
        if (limit !== undefined && verifier.bytesReceived > limit) {
          throw new PowernodeError('payload_too_large', `${what}: more than ${limit} bytes; stream it with getBlobStream`, { details: { limit } });
        }
        chunks.push(bytes);
      }
      verifier.finish();
      return Buffer.concat(chunks);
    });
  }

  /**
   * Pulls a blob as a stream. The digest (and size) are checked as bytes flow: the stream fails with
   * `digest_mismatch` at the end (or as soon as it runs long), so consumers must treat what they wrote as
   * provisional until the stream ends cleanly.
   */
  async getBlobStream(repository: string, target: BlobTarget): Promise<Readable> {
    assertRepository(repository);
    const { digest, size } = targetOf(target);
    const what = `pull blob ${repository}@${digest}`;
    const response = await this.openBlob(repository, digest, size, what);
    const verifier = new DigestVerifier(digest, size, what);
    async function* verified(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of bodyChunks(response)) {
          verifier.update(chunk);
          yield chunk;
        }
      } catch (cause) {
        if (!(cause instanceof BodyInterrupted)) throw cause;
        throw new PowernodeError('registry_unreachable', `${what}: the connection broke after ${verifier.bytesReceived} bytes; pull again`, { cause });
      }
      verifier.finish();
    }
    return Readable.from(verified(), { objectMode: false });
  }

  /** Pulls a blob to a file: written next to it, verified, then renamed into place (never a partial file). */
  async downloadBlob(repository: string, target: BlobTarget, path: string): Promise<{ digest: string; size: number }> {
    assertRepository(repository);
    const { digest, size } = targetOf(target);
    const what = `pull blob ${repository}@${digest}`;
    return this.withBodyRetries(what, async () => {
      const response = await this.openBlob(repository, digest, size, what);
      const verifier = new DigestVerifier(digest, size, what);
      const partial = `${path}.partial-${randomBytes(4).toString('hex')}`;
      let handle;
      try {
        handle = await open(partial, 'wx');
      } catch (cause) {
        await response.body?.cancel().catch(() => undefined);
        throw new PowernodeError('validation_failed', `${what}: cannot write next to ${path} (${(cause as Error).message}); pass a path in a writable directory`, {
          cause,
          details: { path },
        });
      }
      let committed = false;
      try {
        for await (const chunk of bodyChunks(response)) {
          verifier.update(chunk);
          await handle.write(chunk);
        }
        verifier.finish();
        await handle.sync();
        await handle.close();
        await rename(partial, path);
        committed = true;
        return { digest, size: verifier.bytesReceived };
      } finally {
        if (!committed) {
          await handle.close().catch(() => undefined);
          await unlink(partial).catch(() => undefined);
        }
      }
    });
  }

  /**
   * Pushes a manifest or index under a tag or its digest. A document is serialised as canonical JSON
   * (same content, same digest); the registry's reported digest must match ours.
   */
  async putManifest(repository: string, reference: string, input: ManifestInput): Promise<ManifestResult> {
    return (await this.pushManifest(repository, reference, input)).result;
  }

  /**
   * Pulls a manifest or index by tag or digest with every manifest type in Accept. Pulled by digest, the
   * bytes must hash to it; by tag, they must hash to the digest the registry reports.
   */
  async getManifest(repository: string, reference: string, options: { accept?: readonly string[] } = {}): Promise<ManifestResult> {
    assertRepository(repository);
    assertManifestReference(reference);
    const what = `pull manifest ${repository}${isDigest(reference) ? '@' : ':'}${reference}`;
    return this.withBodyRetries(what, async () => {
      const response = await this.transport.request({
        method: 'GET',
        url: `/v2/${repository}/manifests/${reference}`,
        headers: { accept: (options.accept ?? MANIFEST_ACCEPT_TYPES).join(', ') },
        scopes: [pull(repository)],
        accept: [200],
        what,
      });
      const bytes = await this.readManifestBody(response, what);
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
      return this.parseManifest(bytes, digest, response.headers.get('content-type'), what);
    });
  }

  /** Digest, media type and size of a manifest without pulling it, or undefined when there is none. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    assertRepository(repository);
    assertManifestReference(reference);
    const response = await this.transport.request({
      method: 'HEAD',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT_TYPES.join(', ') },
      scopes: [pull(repository)],
      accept: [200, 404],
      what: `check manifest ${repository}:${reference}`,
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 404) return undefined;
    const digest = response.headers.get('docker-content-digest');
    const size = contentLength(response);
    const mediaType = baseMediaType(response.headers.get('content-type'));
    if (digest !== null && isDigest(digest) && size !== undefined && mediaType !== undefined) return { digest, mediaType, size };
    // Registries may omit the headers on HEAD: fall back to a verified GET.
    const pulled = await this.getManifest(repository, reference);
    return { digest: pulled.digest, mediaType: pulled.mediaType, size: pulled.bytes.length };
  }

  /** Deletes a manifest by digest (which untags every tag pointing at it); the registry must allow deletes. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    assertRepository(repository);
    assertDigest(digest);
    const what = `delete manifest ${repository}@${digest}`;
    const response = await this.transport.request({
      method: 'DELETE',
      url: `/v2/${repository}/manifests/${digest}`,
      scopes: [`repository:${repository}:delete`],
      accept: [202, 200, 405],
      what,
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 405) {
      throw new PowernodeError('registry_error', `${what}: the registry does not allow deletes (405); enable deletion in its configuration`, {
        retryable: false,
        details: { status: 405 },
      });
    }
  }

  /** Every tag of a repository, following `Link` pagination; an unknown repository has no tags. */
  async listTags(repository: string, options: { pageSize?: number } = {}): Promise<string[]> {
    assertRepository(repository);
    const tags: string[] = [];
    const seen = new Set<string>();
    let url: string | undefined = `/v2/${repository}/tags/list?n=${options.pageSize ?? 1000}`;
    while (url !== undefined && !seen.has(url)) {
      seen.add(url);
      const what = `list tags of ${repository}`;
      const response = await this.transport.request({ method: 'GET', url, scopes: [pull(repository)], accept: [200, 404], what });
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
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

  /**
   * Descriptors of the manifests whose `subject` is `digest`, optionally of one artifact type: from the
   * referrers API, or from the `sha256-<hex>` tag index on registries without it.
   */
  async referrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    assertRepository(repository);
    assertDigest(digest);
    const what = `list referrers of ${repository}@${digest}`;
    const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
    const response = await this.transport.request({
      method: 'GET',
      url: `/v2/${repository}/referrers/${digest}${query}`,
      headers: { accept: OCI_INDEX_MEDIA_TYPE },
      scopes: [pull(repository)],
      accept: [200, 404],
      what,
    });
    if (response.status === 200) {
      const bytes = await this.readManifestBody(response, what);
      const index = this.parseManifest(bytes, sha256Digest(bytes), response.headers.get('content-type') ?? OCI_INDEX_MEDIA_TYPE, what).manifest;
      if (!isImageIndex(index)) throw new PowernodeError('registry_error', `${what}: the referrers API answered with something that is not an index`, { retryable: false });
      // Filtering is optional for the registry; OCI-Filters-Applied says whether it did.
      const filtered = (response.headers.get('oci-filters-applied') ?? '').split(',').map((f) => f.trim()).includes('artifactType');
      return filtered ? [...index.manifests] : filterReferrers(index.manifests, artifactType);
    }
    await response.body?.cancel().catch(() => undefined);
    const fallback = await this.readReferrersTagIndex(repository, digest);
    return filterReferrers(fallback?.manifests ?? [], artifactType);
  }

  /**
   * Pushes a referrer (a manifest with `subject`) by its digest. A registry with the referrers API indexes
   * it itself (it answers with `OCI-Subject`); otherwise the `sha256-<hex>` tag index is updated as the OCI
   * spec describes, re-read after writing so a concurrent writer cannot silently drop the entry.
   */
  async attachReferrer(repository: string, manifest: Manifest): Promise<AttachedReferrer> {
    assertRepository(repository);
    const subject = manifest.subject;
    if (subject === undefined || !isDigest(subject.digest)) {
      throw new PowernodeError('validation_failed', 'a referrer needs a subject descriptor with a sha256 digest', { details: { field: 'subject' } });
    }
    const bytes = canonicalJsonBytes({ ...manifest, mediaType: manifestMediaType(manifest) });
    const { result, subjectHeader } = await this.pushManifest(repository, sha256Digest(bytes), manifest);
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
      const current = (await this.readReferrersTagIndex(repository, subject.digest)) ?? emptyReferrersIndex();
      const next = withReferrer(current, entry);
      if (next !== current) await this.putManifest(repository, tag, next);
      const written = await this.readReferrersTagIndex(repository, subject.digest);
      if (written?.manifests.some((listed) => listed.digest === entry.digest) === true) return { ...result, fallbackTag: tag };
    }
    throw new PowernodeError('conflict', `attach referrer to ${repository}@${subject.digest}: the ${tag} index kept changing under us; retry`, {
      retryable: true,
      details: { tag },
    });
  }

  private async readReferrersTagIndex(repository: string, subjectDigest: string): Promise<ImageIndex | undefined> {
    const tag = referrersTag(subjectDigest);
    let pulled: ManifestResult;
    try {
      pulled = await this.getManifest(repository, tag, { accept: [OCI_INDEX_MEDIA_TYPE] });
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

  private async pushManifest(
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
      manifest = this.parseManifest(bytes, sha256Digest(bytes), mediaType, `manifest for ${repository}:${reference}`).manifest;
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
    const response = await this.transport.request({
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      scopes: [push(repository)],
      accept: [201, 200],
      what,
    });
    await response.body?.cancel().catch(() => undefined);
    const reported = response.headers.get('docker-content-digest');
    if (reported !== null && reported.startsWith('sha256:') && reported !== digest) {
      throw new PowernodeError('digest_mismatch', `${what}: the registry stored it as ${reported}, we computed ${digest}`, {
        details: { expected_digest: digest, actual_digest: reported },
      });
    }
    return { result: { digest, mediaType, bytes, manifest }, subjectHeader: response.headers.get('oci-subject') };
  }

  private parseManifest(bytes: Buffer, digest: string, contentType: string | null, what: string): ManifestResult {
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
    const provisional = generic ? documentType ?? '' : declared;
    assertManifestShape(parsed, provisional, what);
    const mediaType = provisional === '' ? manifestMediaType(parsed) : provisional;
    return { digest, mediaType, bytes, manifest: parsed };
  }

  private async readManifestBody(response: Response, what: string): Promise<Buffer> {
    const declared = contentLength(response);
    if (declared !== undefined && declared > this.maxManifestBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new PowernodeError('payload_too_large', `${what}: ${declared} bytes exceed the ${this.maxManifestBytes}-byte manifest limit`, {
        details: { limit: this.maxManifestBytes, size: declared },
      });
    }
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of bodyChunks(response)) {
      received += chunk.length;
      if (received > this.maxManifestBytes) {
        throw new PowernodeError('payload_too_large', `${what}: more than the ${this.maxManifestBytes}-byte manifest limit`, { details: { limit: this.maxManifestBytes } });
      }
      chunks.push(chunk);
    }
    const bytes = Buffer.concat(chunks);
    if (declared !== undefined && bytes.length !== declared) {
      throw new BodyInterrupted(`manifest body ended after ${bytes.length} of ${declared} bytes`);
    }
    return bytes;
  }

  private async openBlob(repository: string, digest: string, size: number | undefined, what: string): Promise<Response> {
    assertDigest(digest);
    const response = await this.transport.request({
      method: 'GET',
      url: `/v2/${repository}/blobs/${digest}`,
      scopes: [pull(repository)],
      accept: [200],
      what,
    });
    const declared = contentLength(response);
    if (size !== undefined && declared !== undefined && declared !== size) {
      await response.body?.cancel().catch(() => undefined);
      throw new PowernodeError('digest_mismatch', `${what}: the registry serves ${declared} bytes, the descriptor says ${size}; do not use it, re-push the blob`, {
        details: { expected_digest: digest, expected_size: size, served_size: declared },
      });
    }
    if (response.body === null) throw new PowernodeError('registry_error', `${what}: the registry answered without a body`, { retryable: true });
    return response;
  }

  /** Runs a request-and-read step again when the body broke mid-transfer (not when the content was wrong). */
  private async withBodyRetries<T>(what: string, step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (!(error instanceof BodyInterrupted)) throw error;
        if (attempt >= this.retries) {
          throw new PowernodeError('registry_unreachable', `${what}: the connection broke while reading the body, ${attempt + 1} times; check the registry`, {
            cause: error,
            details: { registry: this.registry, attempts: attempt + 1 },
          });
        }
        await this.transport.backoff(attempt + 1);
      }
    }
  }

  private async prepareSource(source: BlobSource, knownDigest: string | undefined): Promise<PreparedSource> {
    if (knownDigest !== undefined) assertDigest(knownDigest, 'options.digest');
    if (ArrayBuffer.isView(source)) {
      const bytes = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
      const digest = sha256Digest(bytes);
      if (knownDigest !== undefined && knownDigest !== digest) {
        throw new PowernodeError('digest_mismatch', `upload blob: the bytes hash to ${digest}, not the given ${knownDigest}`, {
          details: { expected_digest: knownDigest, actual_digest: digest },
        });
      }
      return { digest, size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length), close: async () => undefined };
    }
    const { path } = source;
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
    } catch (cause) {
      throw new PowernodeError('validation_failed', `upload blob: cannot read ${path} (${(cause as Error).message}); pass a regular file`, {
        cause,
        details: { path },
      });
    }
    const digest = knownDigest ?? (await sha256DigestOfFile(path)).digest;
    const handle = await open(path, 'r');
    return {
      digest,
      size,
      read: async (offset, length) => {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw new PowernodeError('validation_failed', `upload blob: ${path} shrank while uploading`, { details: { path } });
          filled += bytesRead;
        }
        return buffer;
      },
      close: () => handle.close(),
    };
  }

  private async tryMount(repository: string, digest: string, from: string): Promise<'mounted' | { location: string | undefined }> {
    const request: RegistryRequest = {
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      body: new Uint8Array(0),
      scopes: [push(repository), pull(from)],
      accept: [201, 202],
      what: `mount blob ${digest} from ${from} into ${repository}`,
    };
    let response: Response;
    try {
      response = await this.transport.request(request);
    } catch (error) {
      // A source we may not read (or that is gone) is no reason to fail: upload instead.
      if (isPowernodeError(error) && (error.code === 'not_found' || error.code === 'forbidden' || error.code === 'unauthenticated')) {
        return { location: undefined };
      }
      throw error;
    }
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 201) return 'mounted';
    return { location: response.headers.get('location') ?? undefined };
  }

  private async startUpload(repository: string): Promise<string> {
    const what = `start blob upload to ${repository}`;
    const response = await this.transport.request({
      method: 'POST',
      url: `/v2/${repository}/blobs/uploads/`,
      body: new Uint8Array(0),
      scopes: [push(repository)],
      accept: [202],
      what,
    });
    await response.body?.cancel().catch(() => undefined);
    const location = response.headers.get('location');
    if (location === null) throw new PowernodeError('registry_error', `${what}: the registry gave no upload Location`, { retryable: true });
    return location;
  }

  private async commitUpload(repository: string, location: string, digest: string, body: Uint8Array): Promise<void> {
    const url = this.transport.resolve(location);
    url.searchParams.set('digest', digest);
    const what = `commit blob ${digest} to ${repository}`;
    let response: Response;
    try {
      response = await this.transport.request({
        method: 'PUT',
        url: url.toString(),
        headers: { 'content-type': OCTET_STREAM },
        body,
        scopes: [push(repository)],
        accept: [201, 204, 400],
        what,
      });
    } catch (error) {
      // An earlier attempt may have committed before its answer was lost; the session is gone but the blob is there.
      if (isPowernodeError(error) && error.code === 'not_found' && (await this.blobExists(repository, digest))) return;
      throw error;
    }
    if (response.status === 400) {
      const failure = await this.transport.statusError({ method: 'PUT', url: url.toString(), scopes: [], accept: [], what }, response);
      const codes = ((failure.details?.['errors'] as Array<{ code?: string }> | undefined) ?? []).map((e) => e.code);
      if (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID')) {
        throw new PowernodeError('digest_mismatch', `${what}: the registry received content that does not hash to ${digest}; re-read the source`, {
          cause: failure,
          details: failure.details ?? {},
        });
      }
      throw failure;
    }
    await response.body?.cancel().catch(() => undefined);
    const reported = response.headers.get('docker-content-digest');
    if (reported !== null && reported !== digest) {
      throw new PowernodeError('digest_mismatch', `${what}: the registry stored ${reported}`, { details: { expected_digest: digest, actual_digest: reported } });
    }
  }

  private async uploadChunked(repository: string, firstLocation: string, source: PreparedSource, chunkSize: number): Promise<void> {
    let location = firstLocation;
    let offset = 0;
    let recoveries = 0;
    while (offset < source.size) {
      const length = Math.min(chunkSize, source.size - offset);
      const chunk = await source.read(offset, length);
      try {
        const response = await this.transport.request({
          method: 'PATCH',
          url: location,
          headers: { 'content-type': OCTET_STREAM, 'content-range': `${offset}-${offset + length - 1}` },
          body: chunk,
          scopes: [push(repository)],
          accept: [202],
          what: `upload bytes ${offset}-${offset + length - 1} of ${source.digest} to ${repository}`,
          // Repeating a chunk blindly could duplicate bytes: recovery asks the registry where it stands.
          retry: false,
        });
        await response.body?.cancel().catch(() => undefined);
        location = response.headers.get('location') ?? location;
        offset += length;
      } catch (error) {
        if (!isPowernodeError(error) || !error.retryable || recoveries >= this.retries) throw error;
        recoveries += 1;
        await this.transport.backoff(recoveries);
        const status = await this.uploadStatus(repository, location);
        if (status !== undefined) {
          ({ location, offset } = status);
        } else {
          location = await this.startUpload(repository);
          offset = 0;
        }
      }
    }
    await this.commitUpload(repository, location, source.digest, new Uint8Array(0));
  }

  /** Where an interrupted upload stands (`GET` on its location), or undefined when it cannot be resumed. */
  private async uploadStatus(repository: string, location: string): Promise<{ location: string; offset: number } | undefined> {
    try {
      const response = await this.transport.request({
        method: 'GET',
        url: location,
        scopes: [push(repository)],
        accept: [204, 200],
        what: `check upload to ${repository}`,
      });
      await response.body?.cancel().catch(() => undefined);
      const range = /^(?:bytes=)?0-(-?\d+)$/.exec(response.headers.get('range') ?? '');
      if (range === null) return undefined;
      return { location: response.headers.get('location') ?? location, offset: Number(range[1]) + 1 };
    } catch {
      return undefined;
    }
  }
}
