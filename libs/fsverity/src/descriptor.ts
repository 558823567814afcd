import { createHash } from 'node:crypto';

/** Merkle tree block size: 4096 bytes, what the kernel and `fsverity digest` use by default. */
export const FSVERITY_BLOCK_SIZE = 4096;
/** log2 of the block size, as stored in the descriptor. */
export const FSVERITY_LOG_BLOCK_SIZE = 12;
/** SHA-256 digest length in bytes. */
export const FSVERITY_HASH_SIZE = 32;
/** `FS_VERITY_HASH_ALG_SHA256` in the kernel UAPI. */
export const FSVERITY_HASH_ALG_SHA256 = 1;
/** Size of `struct fsverity_descriptor`. */
export const FSVERITY_DESCRIPTOR_SIZE = 256;

/**
 * The 256-byte `struct fsverity_descriptor` (v1, SHA-256, 4 KiB blocks, no salt) whose SHA-256 is the file
 * digest; the layout is the kernel's UAPI, so every byte matters.
 */
export function fsverityDescriptor(rootHash: Uint8Array, dataSize: bigint | number): Buffer {
  if (rootHash.length !== FSVERITY_HASH_SIZE) {
    throw new RangeError(`fs-verity root hash must be ${FSVERITY_HASH_SIZE} bytes, got ${rootHash.length}`);
  }
  const descriptor = Buffer.alloc(FSVERITY_DESCRIPTOR_SIZE);
  descriptor.writeUInt8(1, 0); // version
  descriptor.writeUInt8(FSVERITY_HASH_ALG_SHA256, 1);
  descriptor.writeUInt8(FSVERITY_LOG_BLOCK_SIZE, 2);
  descriptor.writeUInt8(0, 3); // salt_size
  // 0x04: __reserved_0x04 (le32) stays zero
  descriptor.writeBigUInt64LE(BigInt(dataSize), 8);
  descriptor.set(rootHash, 16); // root_hash[64], zero-padded past the SHA-256 length
  // 0x50: salt[32] and 0x70: __reserved[144] stay zero
  return descriptor;
}

/** The fs-verity file digest (`sha256:<hex>`) from a Merkle root hash and the file's length. */
export function fsverityDigestFromRootHash(rootHash: Uint8Array, dataSize: bigint | number): string {
  return `sha256:${createHash('sha256').update(fsverityDescriptor(rootHash, dataSize)).digest('hex')}`;
}
