import * as crypto from 'node:crypto';
import { FSVERITY_BLOCK_SIZE, FSVERITY_HASH_SIZE, fsverityDigestFromRootHash } from './descriptor.js';

const HASHES_PER_BLOCK = FSVERITY_BLOCK_SIZE / FSVERITY_HASH_SIZE;

// `crypto.hash` (Node >= 20.12) skips the Hash object per call, which is most of the cost for 4 KiB inputs.
export const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

/** The outcome of hashing a whole stream: the file digest plus the values it was derived from. */
export interface FsverityResult {
  /** `sha256:<hex>`, what `fsverity digest` prints and `FS_IOC_MEASURE_VERITY` returns. */
  digest: string;
  /** Merkle tree root hash, hex (all zeros for an empty file). */
  rootHash: string;
  /** Number of data bytes hashed. */
  dataSize: number;
}

/**
 * Incremental fs-verity v1 hasher (SHA-256, 4 KiB blocks, no salt). Feed chunks of any size with `update`;
 * memory stays constant: one partial data block plus one partial block per tree level.
 */
export class FsverityHasher {
  private readonly partialBlock = Buffer.alloc(FSVERITY_BLOCK_SIZE);
  private partialLength = 0;
  private dataSize = 0;
  /** `levels[i]` is the tree block being filled with digests of level-i blocks (level 0 = data blocks). */
  private readonly levels: Buffer[] = [];
  private readonly levelFill: number[] = [];
  /** How many digests level i has received in total: decides which level holds the root. */
  private readonly levelCount: number[] = [];

  /** Hashes the next chunk of file content. Returns `this` so calls chain. */
  update(chunk: Uint8Array): this {
    const length = chunk.length;
    this.dataSize += length;
    let offset = 0;
    if (this.partialLength > 0) {
      const take = Math.min(FSVERITY_BLOCK_SIZE - this.partialLength, length);
      this.partialBlock.set(chunk.subarray(0, take), this.partialLength);
      this.partialLength += take;
      offset = take;
      if (this.partialLength < FSVERITY_BLOCK_SIZE) return this;
      this.appendDigest(0, sha256(this.partialBlock));
      this.partialLength = 0;
    }
    // Whole blocks are hashed straight from the caller's chunk: no copy.
    while (length - offset >= FSVERITY_BLOCK_SIZE) {
      this.appendDigest(0, sha256(chunk.subarray(offset, offset + FSVERITY_BLOCK_SIZE)));
      offset += FSVERITY_BLOCK_SIZE;
    }
    if (offset < length) {
      this.partialBlock.set(chunk.subarray(offset), 0);
      this.partialLength = length - offset;
    }
    return this;
  }

  /** The file digest `sha256:<hex>` of everything hashed so far (the hasher can keep going afterwards). */
  digest(): string {
    return this.result().digest;
  }

  /** Digest, root hash and data size of everything hashed so far, without disturbing the running state. */
  result(): FsverityResult {
    const rootHash = this.rootHash();
    return { digest: fsverityDigestFromRootHash(rootHash, this.dataSize), rootHash: rootHash.toString('hex'), dataSize: this.dataSize };
  }

  private rootHash(): Buffer {
    if (this.dataSize === 0) return Buffer.alloc(FSVERITY_HASH_SIZE);
    // Finish on copies so `digest()` can be called mid-stream.
    const levels: Buffer[] = this.levels.map((block, i) => Buffer.from(block.subarray(0, this.levelFill[i])));
    const counts = [...this.levelCount];
    const push = (level: number, digest: Buffer): void => {
      levels[level] = levels[level] === undefined ? digest : Buffer.concat([levels[level]!, digest]);
      counts[level] = (counts[level] ?? 0) + 1;
    };
    if (this.partialLength > 0) {
      const lastBlock = Buffer.alloc(FSVERITY_BLOCK_SIZE);
      this.partialBlock.copy(lastBlock, 0, 0, this.partialLength);
      push(0, sha256(lastBlock));
    }
    // The root is the only digest of the first level that received exactly one; every level below it is
    // finished by hashing its zero-padded partial block.
    for (let level = 0; ; level++) {
      const pending = levels[level] ?? Buffer.alloc(0);
      if (counts[level] === 1) return pending.subarray(0, FSVERITY_HASH_SIZE);
      if (pending.length > 0) {
        const block = Buffer.alloc(FSVERITY_BLOCK_SIZE);
        pending.copy(block);
        push(level + 1, sha256(block));
      }
    }
  }

  private appendDigest(level: number, digest: Buffer): void {
    let block = this.levels[level];
    if (block === undefined) {
      block = Buffer.alloc(FSVERITY_BLOCK_SIZE);
      this.levels[level] = block;
      this.levelFill[level] = 0;
      this.levelCount[level] = 0;
    }
    const fill = this.levelFill[level]!;
    digest.copy(block, fill);
    this.levelCount[level]! += 1;
    if (fill + FSVERITY_HASH_SIZE < FSVERITY_BLOCK_SIZE) {
      this.levelFill[level] = fill + FSVERITY_HASH_SIZE;
      return;
    }
    // A full tree block is final whatever follows, so it is hashed now and the level starts over.
    this.levelFill[level] = 0;
    this.appendDigest(level + 1, sha256(block));
  }
}

/** Blocks per tree block, exported for callers sizing test files around level boundaries. */
export const FSVERITY_HASHES_PER_BLOCK = HASHES_PER_BLOCK;
