import { open, stat } from 'node:fs/promises';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import { assertDigest, isDigest, sha256Digest, sha256DigestOfFile } from './digest.js';
import type { Descriptor } from './manifest-types.js';
import { OCTET_STREAM, assertRepository, pullScope, pushScope, type RegistryContext } from './registry-context.js';
import type { RegistryRequest } from './registry-transport.js';
import { discardBody } from './response-body.js';

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

interface PreparedSource {
  digest: string;
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** True when the repository holds the blob (`HEAD`). */
export async function blobExists(context: RegistryContext, repository: string, digest: string): Promise<boolean> {
  assertRepository(repository);
  assertDigest(digest);
  const response = await context.transport.request({
    method: 'HEAD',
    url: `/v2/${repository}/blobs/${digest}`,
    scopes: [pullScope(repository)],
    accept: [200, 404],
    what: `check blob ${repository}@${digest}`,
  });
  await discardBody(response);
  return response.status === 200;
}

/**
 * Uploads a blob unless the repository already has it: mounted from `mountFrom` when the registry can,
 * else one PUT for small blobs or PATCH chunks (resumed after failures) for large ones.
 */
export async function uploadBlob(context: RegistryContext, repository: string, source: BlobSource, options: UploadBlobOptions = {}): Promise<UploadedBlob> {
  assertRepository(repository);
  if (options.mountFrom !== undefined) assertRepository(options.mountFrom);
  const chunkSize = options.chunkSize ?? context.chunkSize;
  const prepared = await prepareSource(source, options.digest);
  try {
    const descriptor: Descriptor = { mediaType: options.mediaType ?? OCTET_STREAM, digest: prepared.digest, size: prepared.size };
    if (await blobExists(context, repository, prepared.digest)) return { descriptor, via: 'already_present' };

    let location: string | undefined;
    if (options.mountFrom !== undefined && options.mountFrom !== repository) {
      const mounted = await tryMount(context, repository, prepared.digest, options.mountFrom);
      if (mounted === 'mounted') return { descriptor, via: 'mounted' };
      location = mounted.location;
    }
    location ??= await startUpload(context, repository);
    if (prepared.size > chunkSize) {
      await uploadChunked(context, repository, location, prepared, chunkSize);
      return { descriptor, via: 'chunked' };
    }
    await commitUpload(context, repository, location, prepared.digest, await prepared.read(0, prepared.size));
    return { descriptor, via: 'monolithic' };
  } finally {
    await prepared.close();
  }
}

async function prepareSource(source: BlobSource, knownDigest: string | undefined): Promise<PreparedSource> {
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

async function tryMount(context: RegistryContext, repository: string, digest: string, from: string): Promise<'mounted' | { location: string | undefined }> {
  const request: RegistryRequest = {
    method: 'POST',
    url: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
    body: new Uint8Array(0),
    scopes: [pushScope(repository), pullScope(from)],
    accept: [201, 202],
    what: `mount blob ${digest} from ${from} into ${repository}`,
  };
  let response: Response;
  try {
    response = await context.transport.request(request);
  } catch (error) {
    // A source we may not read (or that is gone) is no reason to fail: upload instead.
    if (isPowernodeError(error) && (error.code === 'not_found' || error.code === 'forbidden' || error.code === 'unauthenticated')) {
      return { location: undefined };
    }
    throw error;
  }
  await discardBody(response);
  if (response.status === 201) return 'mounted';
  return { location: response.headers.get('location') ?? undefined };
}

async function startUpload(context: RegistryContext, repository: string): Promise<string> {
  const what = `start blob upload to ${repository}`;
  const response = await context.transport.request({
    method: 'POST',
    url: `/v2/${repository}/blobs/uploads/`,
    body: new Uint8Array(0),
    scopes: [pushScope(repository)],
    accept: [202],
    what,
  });
  await discardBody(response);
  const location = response.headers.get('location');
  if (location === null) throw new PowernodeError('registry_error', `${what}: the registry gave no upload Location`, { retryable: true });
  return location;
}

async function commitUpload(context: RegistryContext, repository: string, location: string, digest: string, body: Uint8Array): Promise<void> {
  const url = context.transport.resolve(location);
  url.searchParams.set('digest', digest);
  const what = `commit blob ${digest} to ${repository}`;
  let response: Response;
  try {
    response = await context.transport.request({
      method: 'PUT',
      url: url.toString(),
      headers: { 'content-type': OCTET_STREAM },
      body,
      scopes: [pushScope(repository)],
      accept: [201, 204, 400],
      what,
    });
  } catch (error) {
    // An earlier attempt may have committed before its answer was lost; the session is gone but the blob is there.
    if (isPowernodeError(error) && error.code === 'not_found' && (await blobExists(context, repository, digest))) return;
    throw error;
  }
  if (response.status === 400) {
    const failure = await context.transport.statusError({ method: 'PUT', url: url.toString(), scopes: [], accept: [], what }, response);
    const codes = (failure.details?.['registry_codes'] as string[] | undefined) ?? [];
    if (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID')) {
      throw new PowernodeError('digest_mismatch', `${what}: the registry received content that does not hash to ${digest}; re-read the source`, {
        cause: failure,
        details: failure.details ?? {},
      });
    }
    throw failure;
  }
  await discardBody(response);
  const reported = response.headers.get('docker-content-digest');
  if (reported !== null && reported !== digest) {
    // The header is the registry's text: named only when it is a digest.
    throw new PowernodeError('digest_mismatch', `${what}: the registry stored ${isDigest(reported) ? reported : 'something else'}`, {
      details: { expected_digest: digest, actual_digest: reported },
    });
  }
}

async function uploadChunked(context: RegistryContext, repository: string, firstLocation: string, source: PreparedSource, chunkSize: number): Promise<void> {
  let location = firstLocation;
  let offset = 0;
  let recoveries = 0;
  while (offset < source.size) {
    const length = Math.min(chunkSize, source.size - offset);
    const chunk = await source.read(offset, length);
    try {
      const response = await context.transport.request({
        method: 'PATCH',
        url: location,
        headers: { 'content-type': OCTET_STREAM, 'content-range': `${offset}-${offset + length - 1}` },
        body: chunk,
        scopes: [pushScope(repository)],
        accept: [202],
        what: `upload bytes ${offset}-${offset + length - 1} of ${source.digest} to ${repository}`,
        // Repeating a chunk blindly could duplicate bytes: recovery asks the registry where it stands.
        retry: false,
      });
      await discardBody(response);
      location = response.headers.get('location') ?? location;
      offset += length;
    } catch (error) {
      if (!isPowernodeError(error) || !error.retryable || recoveries >= context.retries) throw error;
      recoveries += 1;
      await context.transport.backoff(recoveries);
      const status = await uploadStatus(context, repository, location);
      if (status !== undefined) {
        ({ location, offset } = status);
      } else {
        location = await startUpload(context, repository);
        offset = 0;
      }
    }
  }
  await commitUpload(context, repository, location, source.digest, new Uint8Array(0));
}

/** Where an interrupted upload stands (`GET` on its location), or undefined when it cannot be resumed. */
async function uploadStatus(context: RegistryContext, repository: string, location: string): Promise<{ location: string; offset: number } | undefined> {
  try {
    const response = await context.transport.request({
      method: 'GET',
      url: location,
      scopes: [pushScope(repository)],
      accept: [204, 200],
      what: `check upload to ${repository}`,
    });
    await discardBody(response);
    const range = /^(?:bytes=)?0-(-?\d+)$/.exec(response.headers.get('range') ?? '');
    if (range === null) return undefined;
    return { location: response.headers.get('location') ?? location, offset: Number(range[1]) + 1 };
  } catch {
    return undefined;
  }
}
