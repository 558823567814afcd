import type { Readable } from 'node:stream';
import { PowernodeError } from '@powernode/contracts';
import { downloadBlob, getBlob, getBlobStream, type BlobTarget } from './blob-download.js';
import { blobExists, uploadBlob, type BlobSource, type UploadBlobOptions, type UploadedBlob } from './blob-upload.js';
import type { Descriptor, Manifest, ManifestResult } from './manifest-types.js';
import { deleteManifest, getManifest, headManifest, listTags, putManifest, type ManifestHead, type ManifestInput } from './manifests.js';
import { attachReferrer, listReferrers, type AttachedReferrer } from './referrers.js';
import type { RegistryContext } from './registry-context.js';
import type { HopCheck } from './registry-hops.js';
import { RegistryTransport, type RegistryAuth } from './registry-transport.js';
import { discardBody } from './response-body.js';

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
  /**
   * Checks every host the registry sends the client to (redirects, its token service, upload locations);
   * throws to refuse. Default: any http(s) host, never from https down to http. Redirects are followed
   * by hand, at most 5, and credentials never follow to another origin.
   */
  checkHop?: HopCheck;
}

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Client of the OCI distribution API over fetch: blobs (monolithic, chunked and mounted uploads; verified
 * pulls), manifests and indexes, tags, referrers (API or tag fallback) and deletion. Every pulled byte is
 * checked against its digest and size before it is handed over. The work is done in `blob-upload`,
 * `blob-download`, `manifests` and `referrers`; this class holds the registry's settings for them.
 */
export class OciClient {
  readonly registry: string;
  private readonly context: RegistryContext;

  constructor(options: OciClientOptions) {
    this.registry = options.registry;
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const retries = options.retries ?? 3;
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new PowernodeError('validation_failed', `chunkSize must be a positive integer, got ${options.chunkSize}`, { details: { field: 'chunkSize' } });
    }
    const transport = new RegistryTransport({
      baseUrl: `${options.insecure === true ? 'http' : 'https'}://${options.registry}`,
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      retries,
      retryDelayMs: options.retryDelayMs ?? 200,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      fetch: options.fetch ?? globalThis.fetch,
      userAgent: options.userAgent ?? 'powernode-oci/0.1',
      ...(options.checkHop === undefined ? {} : { checkHop: options.checkHop }),
    });
    this.context = { registry: options.registry, transport, retries, chunkSize, maxManifestBytes: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES };
  }

  /** Checks the registry answers the distribution API (`GET /v2/`) and accepts our credentials. */
  async ping(): Promise<void> {
    const response = await this.context.transport.request({ method: 'GET', url: '/v2/', scopes: [], accept: [200], what: `ping ${this.registry}` });
    await discardBody(response);
  }

  /** True when the repository holds the blob (`HEAD`). */
  blobExists(repository: string, digest: string): Promise<boolean> {
    return blobExists(this.context, repository, digest);
  }

  /**
   * Uploads a blob unless the repository already has it: mounted from `mountFrom` when the registry can,
   * else one PUT for small blobs or PATCH chunks (resumed after failures) for large ones.
   */
  uploadBlob(repository: string, source: BlobSource, options: UploadBlobOptions = {}): Promise<UploadedBlob> {
    return uploadBlob(this.context, repository, source, options);
  }

  /** Pulls a blob into memory, verified against its digest (and size when a descriptor is given). */
  getBlob(repository: string, target: BlobTarget, options: { maxBytes?: number } = {}): Promise<Buffer> {
    return getBlob(this.context, repository, target, options);
  }

  /**
   * Pulls a blob as a stream. The digest (and size) are checked as bytes flow: the stream fails with
   * `digest_mismatch` at the end (or as soon as it runs long), so consumers must treat what they wrote as
   * provisional until the stream ends cleanly.
   */
  getBlobStream(repository: string, target: BlobTarget): Promise<Readable> {
    return getBlobStream(this.context, repository, target);
  }

  /** Pulls a blob to a file: written next to it, verified, then renamed into place (never a partial file). */
  downloadBlob(repository: string, target: BlobTarget, path: string): Promise<{ digest: string; size: number }> {
    return downloadBlob(this.context, repository, target, path);
  }

  /**
   * Pushes a manifest or index under a tag or its digest. A document is serialised as canonical JSON
   * (same content, same digest); the registry's reported digest must match ours.
   */
  putManifest(repository: string, reference: string, input: ManifestInput): Promise<ManifestResult> {
    return putManifest(this.context, repository, reference, input);
  }

  /**
   * Pulls a manifest or index by tag or digest with every manifest type in Accept. Pulled by digest, the
   * bytes must hash to it; by tag, they must hash to the digest the registry reports.
   */
  getManifest(repository: string, reference: string, options: { accept?: readonly string[] } = {}): Promise<ManifestResult> {
    return getManifest(this.context, repository, reference, options);
  }

  /** Digest, media type and size of a manifest without pulling it, or undefined when there is none. */
  headManifest(repository: string, reference: string): Promise<ManifestHead | undefined> {
    return headManifest(this.context, repository, reference);
  }

  /** Deletes a manifest by digest (which untags every tag pointing at it); the registry must allow deletes. */
  deleteManifest(repository: string, digest: string): Promise<void> {
    return deleteManifest(this.context, repository, digest);
  }

  /** Every tag of a repository, following `Link` pagination; an unknown repository has no tags. */
  listTags(repository: string, options: { pageSize?: number } = {}): Promise<string[]> {
    return listTags(this.context, repository, options);
  }

  /**
   * Descriptors of the manifests whose `subject` is `digest`, optionally of one artifact type: from the
   * referrers API, or from the `sha256-<hex>` tag index on registries without it.
   */
  referrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]> {
    return listReferrers(this.context, repository, digest, artifactType);
  }

  /**
   * Pushes a referrer (a manifest with `subject`) by its digest. A registry with the referrers API indexes
   * it itself (it answers with `OCI-Subject`); otherwise the `sha256-<hex>` tag index is updated as the OCI
   * spec describes, re-read after writing so a concurrent writer cannot silently drop the entry.
   */
  attachReferrer(repository: string, manifest: Manifest): Promise<AttachedReferrer> {
    return attachReferrer(this.context, repository, manifest);
  }
}
