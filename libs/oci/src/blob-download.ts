import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { PowernodeError } from '@powernode/contracts';
import { DigestVerifier, assertDigest } from './digest.js';
import type { Descriptor } from './manifest-types.js';
import { assertRepository, pullScope, type RegistryContext } from './registry-context.js';
import { BodyInterrupted, bodyChunks, contentLength, discardBody, withBodyRetries } from './response-body.js';

/** What to pull: a descriptor (digest and size both verified) or a bare digest (digest verified). */
export type BlobTarget = Pick<Descriptor, 'digest' | 'size'> | string;

function targetOf(target: BlobTarget): { digest: string; size: number | undefined } {
  return typeof target === 'string' ? { digest: target, size: undefined } : { digest: target.digest, size: target.size };
}

/** Pulls a blob into memory, verified against its digest (and size when a descriptor is given). */
export async function getBlob(context: RegistryContext, repository: string, target: BlobTarget, options: { maxBytes?: number } = {}): Promise<Buffer> {
  assertRepository(repository);
  const { digest, size } = targetOf(target);
  const what = `pull blob ${repository}@${digest}`;
  return withBodyRetries(context, what, async () => {
    const response = await openBlob(context, repository, digest, size, what);
    const limit = options.maxBytes;
    const declared = contentLength(response);
    if (limit !== undefined && (declared ?? size ?? 0) > limit) {
      await discardBody(response);
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
export async function getBlobStream(context: RegistryContext, repository: string, target: BlobTarget): Promise<Readable> {
  assertRepository(repository);
  const { digest, size } = targetOf(target);
  const what = `pull blob ${repository}@${digest}`;
  const response = await openBlob(context, repository, digest, size, what);
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
export async function downloadBlob(context: RegistryContext, repository: string, target: BlobTarget, path: string): Promise<{ digest: string; size: number }> {
  assertRepository(repository);
  const { digest, size } = targetOf(target);
  const what = `pull blob ${repository}@${digest}`;
  return withBodyRetries(context, what, async () => {
    const response = await openBlob(context, repository, digest, size, what);
    const verifier = new DigestVerifier(digest, size, what);
    const partial = `${path}.partial-${randomBytes(4).toString('hex')}`;
    let handle;
    try {
      handle = await open(partial, 'wx');
    } catch (cause) {
      await discardBody(response);
      throw new PowernodeError(
        'validation_failed',
        `${what}: cannot write next to ${path} (${(cause as Error).message}); pass a path in a writable directory`,
        {
          cause,
          details: { path },
        },
      );
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

async function openBlob(context: RegistryContext, repository: string, digest: string, size: number | undefined, what: string): Promise<Response> {
  assertDigest(digest);
  const response = await context.transport.request({
    method: 'GET',
    url: `/v2/${repository}/blobs/${digest}`,
    scopes: [pullScope(repository)],
    accept: [200],
    what,
  });
  const declared = contentLength(response);
  if (size !== undefined && declared !== undefined && declared !== size) {
    await discardBody(response);
    throw new PowernodeError(
      'digest_mismatch',
      `${what}: the registry serves ${declared} bytes, the descriptor says ${size}; do not use it, re-push the blob`,
      {
        details: { expected_digest: digest, expected_size: size, served_size: declared },
      },
    );
  }
  if (response.body === null) throw new PowernodeError('registry_error', `${what}: the registry answered without a body`, { retryable: true });
  return response;
}
