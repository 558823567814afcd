import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PowernodeError } from '@powernode/contracts';

const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** `sha256:<hex>` of a byte string: the content address of a blob or manifest. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `<algorithm>:<hex>` of a byte string, for content addressed with sha512 as well as sha256. */
export function digestWithAlgorithm(bytes: Uint8Array, algorithm: 'sha256' | 'sha512'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** `sha256:<hex>` and size of a file, streamed. */
export async function sha256DigestOfFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** True for a digest we can verify (`sha256:` or `sha512:` with lowercase hex of the right length). */
export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

/** Throws `validation_failed` unless `value` is a verifiable digest; `field` names it in the message. */
export function assertDigest(value: string, field = 'digest'): void {
  if (!isDigest(value)) {
    throw new PowernodeError('validation_failed', `${field} "${value}" is not a digest: expected sha256:<64 hex> or sha512:<128 hex>`, {
      details: { field, value },
    });
  }
}

/**
 * Checks streamed content against an expected digest and, when known, size: fails as soon as the content
 * grows past the size, and at `finish()` on any difference.
 */
export class DigestVerifier {
  private readonly hash: Hash;
  private received = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
  ) {
    assertDigest(expectedDigest);
    this.hash = createHash(expectedDigest.slice(0, expectedDigest.indexOf(':')));
  }

  /** Bytes seen so far. */
  get bytesReceived(): number {
    return this.received;
  }

  update(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.expectedSize !== undefined && this.received > this.expectedSize) {
      throw this.mismatch(`more than the expected ${this.expectedSize} bytes arrived`);
    }
    this.hash.update(chunk);
  }

  finish(): void {
    if (this.expectedSize !== undefined && this.received !== this.expectedSize) {
      throw this.mismatch(`${this.received} bytes arrived, the descriptor says ${this.expectedSize}`);
    }
    const actual = `${this.expectedDigest.slice(0, this.expectedDigest.indexOf(':'))}:${this.hash.digest('hex')}`;
    if (actual !== this.expectedDigest) throw this.mismatch(`content hashes to ${actual}`);
  }

  private mismatch(reason: string): PowernodeError {
    return new PowernodeError(
      'digest_mismatch',
      `${this.what}: ${reason}, expected ${this.expectedDigest}; the registry served different content than was pushed — do not use it, re-push the blob`,
      { details: { expected_digest: this.expectedDigest, expected_size: this.expectedSize, received_bytes: this.received } },
    );
  }
}
